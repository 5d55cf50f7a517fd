import { api, sameOriginPath, showError, tokens } from "/static/app.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");
const params = new URLSearchParams(location.search);
if (params.get("expired")) showError(error, new Error("Your session has ended: sign in again."));

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError(error, null);
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const body = new URLSearchParams(new FormData(form));
    const { access_token: token } = await api("/api/auth/token", { method: "POST", form: body });
    const user = await api("/api/users/me", { token });
    if (user.role === "attendee") {
      throw new Error("Attendees sign in on their event's page (open the event's link or QR code).");
    }
    tokens.setStaff(token);
    location.href = sameOriginPath(params.get("next")) ?? (user.role === "admin" ? "/admin" : "/studio");
  } catch (err) {
    showError(error, err);
  } finally {
    button.disabled = false;
  }
});
