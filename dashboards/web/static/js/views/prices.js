// Market price marks per commodity over the last day (GET /api/v1/prices): the prices the
// collateral is valued at. Loans are revalued on every accepted mark (a `loan.updated` event).

import { h, section } from "../dom.js";
import { label, number } from "../format.js";
import { t } from "../i18n.js";
import { lastSpan, lineChart, rangeOf, rangePicker } from "../timeseries.js";

export const refreshOn = ["loan."];
const WINDOW_S = 24 * 3600;

async function priceChart(app, commodity, spanS) {
  const history = await app.api.get("/prices", {
    commodity: commodity.id, from: Math.floor(Date.now() / 1000 - spanS), limit: 10000,
  });
  const last = history.marks.at(-1);
  const unit = last ? t("prices.unit", { currency: last.currency, per: last.per }) : "";
  const name = label(commodity.id);
  return h("div", { "data-commodity": commodity.id },
    lineChart({
      title: unit ? t("prices.chart_in", { commodity: name, unit, span: lastSpan(spanS) })
        : t("prices.chart", { commodity: name, span: lastSpan(spanS) }),
      spanS,
      series: [{ label: t("prices.series"), cls: "s-price", points: history.marks.map((mark) => [mark.at_s, Number(mark.price)]) }],
      yFormat: (v) => number(v, 0),
    }),
    h("p", { class: "chart-note" }, last
      ? t("prices.latest", { price: number(Number(last.price), 2), unit, source: last.source, count: history.marks.length })
      : t("prices.none", { span: lastSpan(spanS) })));
}

export async function render(root, app, { query }) {
  const spanS = rangeOf(query, WINDOW_S);
  const charts = await Promise.all(app.layout.commodities.map((commodity) => priceChart(app, commodity, spanS)));
  root.append(h("h1", {}, t("prices.title")), rangePicker(spanS), h("div", { class: "grid" },
    charts.map((chart, index) => section(label(app.layout.commodities[index].id), chart))));
}
