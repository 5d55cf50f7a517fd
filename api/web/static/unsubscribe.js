// A digest mail's footer link: the button does what the mail program's one-click does.
import { api, show, showError } from "/static/app.js";

const $ = (id) => document.getElementById(id);
const token = $("unsubscribe").dataset.token;

$("unsubscribe-button").addEventListener("click", async () => {
  try {
    await api(`/api/unsubscribe/${encodeURIComponent(token)}`, { method: "POST" });
    show($("unsubscribe-button"), false);
    show($("unsubscribe-done"));
  } catch (error) {
    showError($("unsubscribe-error"), error);
  }
});
