// Market price marks per commodity over the last day (GET /api/v1/prices): the prices the
// collateral is valued at. Loans are revalued on every accepted mark (a `loan.updated` event).

import { h, section } from "../dom.js";
import { label, number } from "../format.js";
import { lineChart, rangeOf, rangePicker, spanLabel } from "../timeseries.js";

export const refreshOn = ["loan."];
const WINDOW_S = 24 * 3600;

async function priceChart(app, commodity, spanS) {
  const history = await app.api.get("/prices", {
    commodity: commodity.id, from: Math.floor(Date.now() / 1000 - spanS), limit: 10000,
  });
  const last = history.marks.at(-1);
  const unit = last ? `${last.currency} per ${last.per}` : "";
  return h("div", { "data-commodity": commodity.id },
    lineChart({
      title: `${label(commodity.id)}${unit ? ` (${unit})` : ""}, last ${spanLabel(spanS)}`,
      spanS,
      series: [{ label: "price", cls: "s-price", points: history.marks.map((mark) => [mark.at_s, Number(mark.price)]) }],
      yFormat: (v) => number(v, 0),
    }),
    h("p", { class: "chart-note" }, last
      ? `Latest ${number(Number(last.price), 2)} ${unit} (${last.source}); ${history.marks.length} marks shown.`
      : `No price marks in the last ${spanLabel(spanS)}.`));
}

export async function render(root, app, { query }) {
  const spanS = rangeOf(query, WINDOW_S);
  const charts = await Promise.all(app.layout.commodities.map((commodity) => priceChart(app, commodity, spanS)));
  root.append(h("h1", {}, "Prices"), rangePicker(spanS), h("div", { class: "grid" },
    charts.map((chart, index) => section(label(app.layout.commodities[index].id), chart))));
}
