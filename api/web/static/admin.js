// The admin's view: queues and workers (live), users, events.
import { api, h, pagedList, poll, requireStaff, showError, toast, when } from "/static/app.js";

const { token } = await requireStaff(["admin"]);
const $ = (id) => document.getElementById(id);

async function refreshQueues() {
  const stats = await api("/api/admin/queues", { token });
  $("queues").replaceChildren(
    h("div", {}, h("dt", {}, "Workers"), h("dd", { dataset: { stat: "workers" } }, String(stats.workers))),
    ...Object.entries(stats.queues).map(([name, depth]) =>
      h("div", {}, h("dt", {}, `${name} queue`), h("dd", { dataset: { stat: `queue-${name}` } }, String(depth)),
        h("dd", {}, h("small", { class: stats.failed[name] ? "error" : "muted" }, `${stats.failed[name] ?? 0} failed`)))),
  );
  $("workers").replaceChildren(
    ...stats.worker_list.map((w) =>
      h("tr", {},
        h("td", {}, w.name, h("br"), h("small", { class: "muted" }, `${w.hostname ?? ""} pid ${w.pid ?? "?"}`)),
        h("td", {}, h("span", { class: `badge ${w.state}` }, w.state)),
        h("td", {}, w.queues.join(", ")),
        h("td", { class: "small" }, w.current_job ?? "–"),
        h("td", {}, `${w.successful_jobs} / ${w.failed_jobs}`),
        h("td", { class: "small" }, when(w.last_heartbeat)))),
  );
  return true;
}

const users = pagedList({
  token,
  path: "/api/admin/users?limit=100",
  list: $("users"),
  more: $("more-users"),
  onPage: (page) => ($("user-count").textContent = String(page.count)),
  render: (u) => h("tr", { dataset: { email: u.email } },
    h("td", {}, u.email), h("td", {}, u.role), h("td", {}, when(u.created_at)),
    h("td", {}, h("span", { class: `badge ${u.is_active ? "open" : "closed"}` }, u.is_active ? "active" : "deactivated")),
    h("td", { class: "row" },
      h("button", { type: "button", class: "small", onclick: () => setActive(u, !u.is_active) },
        u.is_active ? "Deactivate" : "Reactivate"),
      h("button", { type: "button", class: "small", onclick: (e) => resetLink(u, e.currentTarget) }, "Reset link"),
      h("button", { type: "button", class: "small danger", onclick: () => deleteUser(u) }, "Delete"))),
});

// A one-time link to set a new password, shown under the row for the admin to hand over.
async function resetLink(user, button) {
  let link;
  try {
    link = await api(`/api/admin/users/${user.id}/reset-link`, { method: "POST", token });
  } catch (error) {
    return toast(error.message);
  }
  const cell = button.closest("td");
  cell.querySelector(".reset-link")?.remove();
  const url = new URL(link.url, location.origin).href;
  cell.append(h("p", { class: "reset-link small" }, "Give this link to ", user.email, " (one use, until ",
    when(link.expires_at), "): ", h("input", { readonly: true, value: url, class: "code", "aria-label": "reset link" })));
}
const loadUsers = users.reload;

async function setActive(user, active) {
  try {
    await api(`/api/admin/users/${user.id}`, { method: "PATCH", token, json: { is_active: active } });
    toast(`${user.email} is ${active ? "active again" : "deactivated: signed out everywhere"}.`);
  } catch (error) {
    toast(error.message);
  }
  loadUsers();
}

async function deleteUser(user) {
  if (!confirm(`Delete ${user.email} with every registration, selfie and match? This cannot be undone.`)) return;
  try {
    const deleted = await api(`/api/admin/users/${user.id}`, { method: "DELETE", token });
    toast(`${user.email} deleted (${deleted.events_joined} events joined, ${deleted.matches} matches).`);
  } catch (error) {
    toast(error.message);
  }
  loadUsers();
}

const events = pagedList({
  token,
  path: "/api/events?limit=100",
  list: $("admin-events"),
  more: $("more-events"),
  onPage: (page) => ($("event-count").textContent = String(page.count)),
  render: (e) => h("tr", {},
    h("td", {}, h("a", { href: `/studio/events/${e.id}` }, e.name)),
    h("td", { class: "code" }, e.code),
    h("td", {}, e.status),
    h("td", {}, String(e.tolerance)),
    h("td", {}, when(e.created_at)),
    h("td", {}, h("button", { type: "button", class: "small", onclick: () => handOver(e) }, "Hand over"))),
});

async function handOver(event) {
  const email = prompt(`Give “${event.name}” to which photographer (email)?`);
  if (!email) return;
  try {
    await api(`/api/admin/events/${event.id}/owner`, { method: "POST", token, json: { email } });
    toast(`“${event.name}” now belongs to ${email}.`);
  } catch (error) {
    toast(error.message);
  }
  events.reload();
}

$("create-user").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const data = new FormData(form);
  showError($("user-error"), null);
  try {
    await api("/api/admin/users", {
      method: "POST",
      token,
      json: { email: data.get("email"), password: data.get("password"), role: data.get("role") },
    });
    form.reset();
    await loadUsers();
  } catch (error) {
    showError($("user-error"), error);
  }
});

async function refreshThroughput() {
  const t = await api("/api/admin/throughput", { token });
  const shown = {
    ...t,
    selfie_latency: t.selfie_p50_ms === null ? "–" : `${Math.round(t.selfie_p50_ms)} / ${Math.round(t.selfie_p95_ms)} ms`,
  };
  for (const node of document.querySelectorAll("[data-throughput]")) node.textContent = String(shown[node.dataset.throughput] ?? "–");
  return true;
}

const short = (id) => (id ? id.slice(0, 8) : "–");
let audit = null;
function loadAudit() {
  const filters = new URLSearchParams({ limit: "50" });
  if ($("audit-event").value.trim()) filters.set("event_id", $("audit-event").value.trim());
  if ($("audit-action").value) filters.set("action", $("audit-action").value);
  audit = pagedList({
    token,
    path: `/api/admin/audit?${filters}`,
    list: $("audit"),
    more: $("more-audit"),
    onPage: (page) => ($("audit-count").textContent = String(page.count)),
    render: (e) => h("tr", {},
      h("td", { class: "small" }, when(e.at)), h("td", {}, e.action), h("td", {}, String(e.count)),
      h("td", { class: "code small", title: e.event_id ?? "" }, short(e.event_id)),
      h("td", { class: "code small", title: e.subject_id ?? "" }, short(e.subject_id)),
      h("td", { class: "small" }, e.actor), h("td", { class: "small" }, e.reason ?? "–")),
  });
  return audit.reload().catch((error) => toast(error.message));
}
$("audit-filters").addEventListener("submit", (event) => {
  event.preventDefault();
  const more = $("more-audit").cloneNode(true);  // a fresh button: the old list's handler goes
  $("more-audit").replaceWith(more);
  loadAudit();
});

poll(refreshQueues, { min: 5000, max: 5000 });
poll(refreshThroughput, { min: 15000, max: 15000 });
loadAudit();
loadUsers();
events.reload();
