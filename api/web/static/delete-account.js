// A mailed deletion link lands here: its token is in the fragment (never sent, nor fetched by
// a mail scanner's prefetch), and nothing is deleted until the button is pressed.
import { api, show, showError } from "/static/app.js";

const $ = (id) => document.getElementById(id);
const token = location.hash.slice(1);
const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
if (!token) showError($("delete-error"), new Error("This page needs the link from the mail."));

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
  $("delete-done").textContent =
    `Your account is deleted, with ${plural(deleted.events_joined, "event registration")}, ` +
    `${plural(deleted.encodings, "face encoding")} and ${plural(deleted.matches, "match", "matches")}.`;
  show($("delete-done"));
});
