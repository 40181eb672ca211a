// Every loan the caller may see, highest LTV first.

import { h, section } from "../dom.js";
import { t } from "../i18n.js";
import { loansTable } from "./common.js";

export const refreshOn = ["loan."];

export async function render(root, app) {
  const loans = await app.api.get("/loans");
  root.append(h("h1", {}, t("loans.title")), section(t("loans.all"), loansTable(loans)));
}
