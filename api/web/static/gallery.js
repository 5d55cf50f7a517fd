// A browse-all gallery (/g/<token>): the password, then every photo of the event. The
// access token lives in this tab only (sessionStorage), for a few hours at most.
import { api, download, h, lazyImage, loadImage, show, showError, t } from "/static/app.js";

const $ = (id) => document.getElementById(id);
const link = $("gallery-page").dataset.token;
const key = `facematch.gallery.${link}`;
let access = sessionStorage.getItem(key);
let nextCursor = null;
let current = null;

function locked(error) {
  sessionStorage.removeItem(key);
  access = null;
  show($("gallery-photos"), false);
  show($("gallery-lock"));
  if (error) showError($("gallery-error"), error);
}

async function loadPage(cursor) {
  const query = `limit=60${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
  const page = await api(`/api/galleries/${encodeURIComponent(link)}/photos?${query}`, { token: access });
  for (const photo of page.data) {
    const img = h("img", { alt: t("Photo {name}", { name: photo.filename }), width: 240, height: 240 });
    lazyImage(img, photo.thumb_url, access);
    $("gallery-grid").append(h("li", { class: "tile" },
      h("button", { type: "button", class: "tile-open", "aria-label": t("Open {name}", { name: photo.filename }), onclick: () => openViewer(photo) }, img)));
  }
  nextCursor = page.next_cursor;
  $("gallery-count").textContent = String(page.count);
  show($("gallery-more"), Boolean(nextCursor));
  show($("gallery-lock"), false);
  show($("gallery-photos"));
}

function openViewer(photo) {
  current = photo;
  $("gallery-viewer-img").removeAttribute("src");
  $("gallery-viewer-img").alt = photo.filename;
  loadImage($("gallery-viewer-img"), photo.preview_url, access).catch((error) => locked(error));
  $("gallery-viewer-download").textContent = photo.original ? t("Download") : t("Download (preview)");
  $("gallery-viewer").showModal();
}

$("gallery-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const password = new FormData(form).get("password");
  try {
    const granted = await api(`/api/galleries/${encodeURIComponent(link)}/access`, { method: "POST", json: { password } });
    access = granted.access_token;
    sessionStorage.setItem(key, access);
    form.reset();
    show($("gallery-error"), false);
    await loadPage(null);
  } catch (error) {
    showError($("gallery-error"), error);
  }
});
$("gallery-more").addEventListener("click", () => nextCursor && loadPage(nextCursor).catch(locked));
$("gallery-viewer-close").addEventListener("click", () => $("gallery-viewer").close());
$("gallery-viewer-download").addEventListener("click", () =>
  download(current.download_url, access, current.filename).catch((error) => locked(error)));

if (access) loadPage(null).catch(() => locked());
