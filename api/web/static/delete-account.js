// A mailed deletion link lands here: its token is in the fragment (never sent, nor fetched by
// a mail scanner's prefetch), and nothing is deleted until the button is pressed.
import { api, deletedCounts, show, showError, t } from "/static/app.js";

const $ = (id) => document.getElementById(id);
const token = location.hash.slice(1);
if (!token) showError($("delete-error"), new Error(t("This page needs the link from the mail.")));

$("delete-confirm").addEventListener("click", async () => {
  showError($("delete-error"), null);
  let deleted;
  try {
    deleted = await api("/api/account-deletions", { method: "POST", json: { token } });
  } catch (error) {
    return showError($("delete-error"), error);
  }
  history.replaceState(null, "", location.pathname);  // the spent token leaves the address bar
  show($("delete-confirm"), false);
  $("delete-done").textContent = t("Your account is deleted, with {list}.", { list: deletedCounts({ events: deleted.events_joined, encodings: deleted.encodings, matches: deleted.matches }) });
  show($("delete-done"));
});
