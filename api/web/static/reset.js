// Set a new password with a reset link's token, read from the URL's fragment (never sent).
import { api, show, showError } from "/static/app.js";

const $ = (id) => document.getElementById(id);
const token = location.hash.slice(1);
if (!token) showError($("reset-error"), new Error("This page needs the link an admin gave you."));

$("reset-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(event.currentTarget);
  showError($("reset-error"), null);
  if (data.get("password") !== data.get("again")) {
    return showError($("reset-error"), new Error("The two passwords differ."));
  }
  try {
    await api("/api/auth/reset-password", { method: "POST", json: { token, password: data.get("password") } });
  } catch (error) {
    return showError($("reset-error"), error);
  }
  history.replaceState(null, "", location.pathname);  // the spent token leaves the address bar
  show($("reset-form"), false);
  show($("reset-done"));
});
