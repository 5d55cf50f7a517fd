// Shared helpers for every page: the API client, token storage, polling and images.

const STAFF_KEY = "facematch.token";
const attendeeKey = (code) => `facematch.attendee.${code}`;

// The page's language, and its scripts' strings in it (api/i18n.py puts the catalogue on
// the page as JSON). `t("English text {name}", { name })`: the text is the catalogue's key.
export const lang = document.documentElement.lang || "en";
const messages = JSON.parse(document.getElementById("messages")?.textContent || "{}");
export function t(text, values = {}) {
  return (messages[text] || text).replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}
// One of two forms by a count, by the page language's rule (CLDR's, as the browser knows
// it: French says "0 photo"): plural(n, t("{n} photo", { n }), t("{n} photos", { n })).
const pluralRules = new Intl.PluralRules(lang);
export const plural = (n, one, many) => (pluralRules.select(n) === "one" ? one : many);
// Counts of deleted face data as the page's language lists them: "2 face encodings and 5 matches".
export function deletedCounts({ events, encodings, matches }) {
  const parts = [
    events === undefined ? null : plural(events, t("{n} event registration", { n: events }), t("{n} event registrations", { n: events })),
    plural(encodings, t("{n} face encoding", { n: encodings }), t("{n} face encodings", { n: encodings })),
    plural(matches, t("{n} match", { n: matches }), t("{n} matches", { n: matches })),
  ].filter(Boolean);
  return new Intl.ListFormat(lang, { type: "conjunction" }).format(parts);
}

// The API's refusals in the page's language, by their code (else their kind). An English
// page keeps the API's own sentence, which may say more (a limit, a wait in seconds).
const ERRORS = {
  attendee_required: t("Open this event's page to sign in to it."),
  bad_bib: t("That is not a bib number: 1 to 6 digits."),
  bib_needs_link: t("Ask for a link on the event's page: it goes to the address on the start list."),
  bib_search_by_link: t("This event shows a bib's photos only to its runner, by a link mailed to the address on the start list."),
  bibs_off: t("This event's photos are not searched by bib."),
  consent_outdated: t("The privacy policy changed: consent to the new one first."),
  consent_required: t("Face matching needs your explicit consent."),
  event_closed: t("This event is closed."),
  event_deleting: t("This event is being deleted."),
  event_not_found: t("This event does not exist."),
  gallery_locked: t("Enter the gallery's password first."),
  gallery_not_found: t("This gallery link has expired, was turned off, or is not valid."),
  invalid_link: t("This link was used, has expired or is not valid."),
  invalid_token: t("Your session has ended: sign in again."),
  link_expired: t("This link has expired: ask for a new one."),
  link_used: t("This link was used already: ask for a new one."),
  live_capture_required: t("This event wants a selfie taken live on the camera, not a file."),
  match_not_found: t("This photo is not among yours."),
  no_selfie: t("You have not taken a selfie yet."),
  not_hidden: t("This photo is not hidden from you."),
  not_registered: t("You have not joined this event."),
  originals_not_downloadable: t("The photographer offers previews only, not the original files."),
  pass_not_found: t("This link has expired or is not valid."),
  photo_not_found: t("This photo no longer exists."),
  selfie_limit: t("You have taken as many selfies as this event allows."),
  unknown_bib: t("This bib is not one of the event's."),
  wrong_gallery_password: t("Wrong password for this gallery."),
  zips_not_allowed: t("The photographer does not offer zips."),
  other_event: t("This link is for another event."),
  confirmation_mismatch: t("Type this account's email to confirm."),
  rate_limited: t("Too many tries: wait a minute, then try again."),
  body_too_large: t("That is more than can be sent at once."),
  invalid_value: t("Something you entered cannot be stored."),
  ValidationError: t("Something you entered is not valid."),
  ServiceUnavailable: t("The service is busy: try again in a moment."),
};
for (const code of ["token_expired", "session_ended", "not_authenticated"]) ERRORS[code] = ERRORS.invalid_token;
ERRORS.not_matched = ERRORS.match_not_found;
const errorIn = (key) => (typeof key === "string" && Object.hasOwn(ERRORS, key) ? ERRORS[key] : "");
const translatedError = (body) => (lang === "en" || !body ? "" : errorIn(body.code) || errorIn(body.error));

export const tokens = {
  staff: () => localStorage.getItem(STAFF_KEY),
  setStaff: (token) => localStorage.setItem(STAFF_KEY, token),
  clearStaff: () => localStorage.removeItem(STAFF_KEY),
  attendee: (code) => localStorage.getItem(attendeeKey(code)),
  setAttendee: (code, token) => localStorage.setItem(attendeeKey(code), token),
  clearAttendee: (code) => localStorage.removeItem(attendeeKey(code)),
};

export class ApiError extends Error {
  constructor(status, body) {
    super(translatedError(body) || describe(body) || t("The request failed ({status}).", { status }));
    this.status = status;
    this.code = body?.code ?? body?.error ?? null;
    this.body = body;
  }
}

// The API's errors are {"error", "detail", "code"}; detail may be a string or a list.
export function describe(body) {
  if (!body) return "";
  const detail = body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => d.detail || d.msg || JSON.stringify(d)).join("; ");
  }
  return body.error || "";
}

// fetch() with the bearer token, JSON in and out, and an ApiError for anything not 2xx/304.
export async function api(path, { method = "GET", token, json, form, headers = {}, raw } = {}) {
  const init = { method, headers: { ...headers } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = form;
  }
  const response = await fetch(path, init);
  if (raw) {
    if (!response.ok && response.status !== 304) throw new ApiError(response.status, await safeJson(response));
    return response;
  }
  if (response.status === 204 || response.status === 304) return null;
  const body = await safeJson(response);
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

async function safeJson(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

// Call `tick` again and again, waiting longer while nothing changes, resetting on change,
// and pausing while the page is hidden. `tick` returns true when something changed,
// or "stop" to end the loop.
export function poll(tick, { min = 1000, max = 30000, factor = 1.6 } = {}) {
  let delay = min;
  let timer = null;
  let stopped = false;
  const run = async () => {
    timer = null;
    if (stopped) return;
    if (document.hidden) return; // resumed by visibilitychange
    let changed = false;
    try {
      changed = await tick();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        stopped = true; // the page's own handler has signed the user out
        return;
      }
      changed = false;
    }
    if (changed === "stop") {
      stopped = true;
      return;
    }
    delay = changed ? min : Math.min(max, delay * factor);
    if (!stopped) timer = setTimeout(run, delay);
  };
  const onVisible = () => {
    if (!document.hidden && !stopped && timer === null) {
      delay = min;
      run();
    }
  };
  document.addEventListener("visibilitychange", onVisible);
  run();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisible);
    },
    now() {
      delay = min;
      if (timer) clearTimeout(timer);
      if (!stopped) run();
    },
  };
}

// Images need the bearer token, so they are fetched and shown as object URLs.
const objectUrls = new WeakMap();
export async function loadImage(img, url, token) {
  const response = await api(url, { token, raw: true });
  const blob = await response.blob();
  const previous = objectUrls.get(img);
  if (previous) URL.revokeObjectURL(previous);
  const objectUrl = URL.createObjectURL(blob);
  objectUrls.set(img, objectUrl);
  img.src = objectUrl;
}

// Lazy: an image loads when it scrolls near the viewport.
const lazy = new IntersectionObserver(
  (entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      const img = entry.target;
      lazy.unobserve(img);
      loadImage(img, img.dataset.src, img.dataset.token || undefined).catch(() => {
        img.closest("li")?.classList.add("broken");
      });
    }
  },
  { rootMargin: "400px" },
);
export function lazyImage(img, url, token) {
  img.dataset.src = url;
  if (token) img.dataset.token = token;
  lazy.observe(img);
}

// Save a response body as a file, with the name from Content-Disposition if it has one.
export async function download(url, token, fallbackName) {
  const response = await api(url, { token, raw: true });
  const blob = await response.blob();
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename\*=UTF-8''([^;]+)/.exec(disposition) || /filename="([^"]+)"/.exec(disposition);
  const name = match ? decodeURIComponent(match[1]) : fallbackName;
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
  return name;
}

// Let the browser download a URL itself (a short-lived link): it streams the file to disk,
// so nothing of it is held in the page's memory, however large.
export function saveLink(url) {
  const a = document.createElement("a");
  a.href = url;
  a.download = "";
  document.body.append(a);
  a.click();
  a.remove();
}

// document.createElement with properties and children.
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "style") Object.assign(node.style, value); // CSSOM, allowed by a strict CSP
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

// Where to go after signing in: a path of this site, or null. It must parse, against this
// origin, to this origin: "/\\evil.example", "/\t/evil.example" and "//evil.example" all
// name another host once a browser has normalised them.
export function sameOriginPath(next) {
  if (!next) return null;
  try {
    const url = new URL(next, location.origin);
    return url.origin === location.origin ? url.pathname + url.search + url.hash : null;
  } catch {
    return null;
  }
}

export function show(node, visible = true) {
  node.hidden = !visible;
}

export function showError(node, error) {
  node.textContent = error ? error.message || String(error) : "";
  node.hidden = !error;
}

let toastTimer = null;
export function toast(message) {
  const node = document.getElementById("toast");
  node.textContent = message;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (node.hidden = true), 4000);
}

// The signed-in staff user, or a redirect to the sign-in page.
export async function requireStaff(roles = ["photographer", "admin"]) {
  const token = tokens.staff();
  const next = encodeURIComponent(location.pathname);
  if (!token) {
    location.replace(`/login?next=${next}`);
    return new Promise(() => {});
  }
  try {
    const user = await api("/api/users/me", { token });
    if (!roles.includes(user.role)) return notAllowed(user, roles);
    return { token, user };
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      tokens.clearStaff();
      location.replace(`/login?next=${next}&expired=1`);
      return new Promise(() => {});
    }
    throw error;
  }
}

// Signed in, but this page is for other roles: say so, and stay signed in.
function notAllowed(user, roles) {
  const home = user.role === "attendee" ? "/" : "/studio";
  document.title = `${t("Not allowed")} · facematch`;
  document.querySelector("main").replaceChildren(
    h("section", { class: "card", id: "not-allowed" },
      h("h1", {}, t("Not allowed")),
      h("p", {}, t("This page is for {roles}. You are signed in as {email} ({role}).", { roles: roles.join(", "), email: user.email, role: user.role })),
      h("p", { class: "row" }, h("a", { class: "button primary", href: home }, t("Go to your page")),
        h("a", { class: "button", href: `/login?next=${encodeURIComponent(location.pathname)}` }, t("Sign in as someone else")))),
  );
  return new Promise(() => {});
}

// A list read a page at a time by cursor: the first page on `reload`, each next one when
// `more` (a button) is pressed; `render` makes a row, `onPage` sees each page.
export function pagedList({ token, path, list, more, render, onPage = () => {} }) {
  let cursor = null;
  async function load(reset) {
    if (reset) cursor = null;
    const sep = path.includes("?") ? "&" : "?";
    const page = await api(`${path}${cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : ""}`, { token });
    const rows = page.data.map(render);
    if (reset) list.replaceChildren(...rows);
    else list.append(...rows);
    cursor = page.next_cursor;
    show(more, Boolean(cursor));
    onPage(page);
  }
  more.addEventListener("click", () => load(false));
  return { reload: () => load(true) };
}

export const percent = (x) => (x === null || x === undefined ? "–" : `${Math.round(x * 100)}%`);
export const when = (iso) => (iso ? new Date(iso).toLocaleString() : "–");
