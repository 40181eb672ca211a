// One warehouse: its gateway, lots with sensor health, and each probe's temperature against
// its commodity's limit (readings are for supervisors and admins).

import { fill, h, section } from "../dom.js";
import { label, number } from "../format.js";
import { t } from "../i18n.js";
import { lastSpan, lineChart, rangeOf, rangePicker } from "../timeseries.js";
import { lotsTable, unitsOf } from "./common.js";
import { gatewayFacts, loadLots } from "./warehouses.js";

export const refreshOn = ["alert.", "loan."];
const TEMPERATURE_WINDOW_S = 3600;

async function temperaturePoints(app, sensorId, spanS) {
  const page = await app.api.get("/readings", {
    sensor: sensorId, kind: "temperature", limit: 5000,
    from: new Date(Date.now() - spanS * 1000).toISOString(),
  });
  return page.readings.map((reading) => [reading.time_ms / 1000,
    reading.quality === "bad" || reading.values.temperature_c === undefined ? null : reading.values.temperature_c]);
}

async function temperatureChart(app, lot, spanS) {
  const probe = lot.sensors.find((sensor) => sensor.kind === "temperature");
  const commodity = app.layout.commodities.find((c) => c.id === lot.commodity);
  const maxC = commodity?.temperature_max_c;
  const chart = lineChart({
    title: t("warehouse.chart.temperature", { lot: lot.id, span: lastSpan(spanS) }),
    spanS,
    series: [{ label: t("warehouse.series.probe", { id: probe.id }), cls: "s-temperature", points: await temperaturePoints(app, probe.id, spanS) }],
    lines: maxC === null || maxC === undefined ? [] : [{ label: t("warehouse.line.limit"), value: maxC, cls: "l-liquidation" }],
    band: maxC === null || maxC === undefined ? null
      : { from: maxC, to: null, label: t("warehouse.band.above", { value: `${number(maxC)} °C` }), cls: "b-danger" },
    yFormat: (v) => `${number(v)} °C`,
  });
  return h("div", { "data-temperature": lot.id }, chart);
}

export async function render(root, app, { id, query }) {
  const spanS = rangeOf(query, TEMPERATURE_WINDOW_S);
  const warehouse = app.layout.warehouses.find((w) => w.id === id);
  if (!warehouse) {
    root.append(h("h1", {}, t("warehouse.not_found")), h("p", {}, t("warehouse.not_found_detail", { id })));
    return;
  }
  const [lots, gateways] = await Promise.all([loadLots(app, warehouse.lots), app.isStaff ? app.api.get("/gateways") : []]);
  const probed = lots.filter((lot) => lot.sensors.some((sensor) => sensor.kind === "temperature"));
  const charts = app.isStaff ? await Promise.all(probed.map((lot) => temperatureChart(app, lot, spanS))) : [];
  fill(root,
    h("h1", {}, t("warehouse.title", { id: warehouse.id })),
    app.isStaff && section(t("warehouse.section.gateway"), gatewayFacts(gateways.find((g) => g.id === warehouse.gateway))),
    section(t("warehouse.section.lots"), lotsTable(t("warehouse.lots_caption", { id: warehouse.id }), lots, unitsOf(app.layout),
      { loanLinks: app.may("loans") })),
    probed.length > 0 && section(t("warehouse.section.temperature"), app.isStaff ? [rangePicker(spanS), h("div", { class: "grid" }, charts)]
      : h("p", {}, t("warehouse.temperature_staff_only", {
        lots: probed.map((lot) => lot.id).join(t("list.comma")), commodity: label(probed[0].commodity) }))));
}
