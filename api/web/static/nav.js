// The header's account links, from the staff token if there is one.
import { api, h, t, tokens } from "/static/app.js";

const nav = document.getElementById("nav");
const token = tokens.staff();
if (token) {
  api("/api/users/me", { token })
    .then((user) => {
      const links = [];
      if (user.role === "photographer" || user.role === "admin") links.push(h("a", { href: "/studio" }, t("Studio")));
      if (user.role === "admin") links.push(h("a", { href: "/admin" }, t("Admin")));
      const signOut = h("button", { type: "button", class: "link", onclick: () => {
        tokens.clearStaff();
        location.href = "/";
      } }, t("Sign out"));
      nav.replaceChildren(...links, h("span", { class: "muted small email" }, user.email), signOut);
    })
    .catch(() => tokens.clearStaff());
}
