// A bib's photos: from a mailed pass (/bib#<token>) or an open search (/e/<code>/bib/<n>).
// Nothing here uses a face: the photos were found by the number read on the bib.
import { api, h, lazyImage, show, showError, t, tokens } from "/static/app.js";

const $ = (id) => document.getElementById(id);
const root = $("bib-page");
const pass = location.pathname === "/bib" ? location.hash.slice(1) : null;
const base = pass
  ? `/api/bib-passes/${encodeURIComponent(pass)}/photos`
  : `/api/e/${encodeURIComponent(root.dataset.code)}/bibs/${encodeURIComponent(root.dataset.bib)}/photos`;
let nextCursor = null;
let shown = 0;

function failed(error) {
  showError($("bib-error"), error);
  show($("bib-gallery"), false);
}

async function loadPage(cursor) {
  const page = await api(`${base}?limit=60${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
  $("bib-number").textContent = page.bib;
  $("bib-event").textContent = page.event_name;
  document.title = [t("Bib {bib}", { bib: page.bib }), page.event_name, "facematch"].join(" · ");
  if (!cursor && pass) showBrand(page);
  for (const photo of page.data) {
    const img = h("img", { alt: t("Photo {name}", { name: photo.filename }), width: 240, height: 240 });
    lazyImage(img, photo.thumb_url);
    $("bib-grid").append(h("li", { class: "tile" },
      h("button", { type: "button", class: "tile-open", "aria-label": t("Open {name}", { name: photo.filename }), onclick: () => openViewer(photo) }, img)));
  }
  shown += page.data.length;
  nextCursor = page.next_cursor;
  $("bib-count").textContent = String(page.count);
  show($("bib-empty"), page.count === 0);
  show($("bib-more"), Boolean(nextCursor));
  show($("bib-gallery"));
  offerClaim(page);
}

// A pass's page learns its event from the first answer: the photographer's brand then.
function showBrand(page) {
  const { brand } = page;
  document.head.append(h("link", { rel: "stylesheet", href: `/e/${encodeURIComponent(page.event_code)}/brand.css` }));
  if (brand.logo_url) {
    $("brand-logo").src = brand.logo_url;
    $("brand-logo").alt = t("{name} logo", { name: brand.name });
    show($("brand-logo"));
  }
  if (brand.welcome_text) {
    $("welcome").textContent = brand.welcome_text;
    show($("welcome"));
  }
}

function openViewer(photo) {
  $("bib-viewer-img").src = photo.preview_url;
  $("bib-viewer-img").alt = photo.filename;
  $("bib-viewer-download").href = photo.download_url;
  $("bib-viewer").showModal();
}

// An attendee of the event signed in on this device may add the pass's bib to their photos.
function offerClaim(page) {
  const token = page.claim_url && tokens.attendee(page.event_code);
  if (!token) return;
  $("bib-claim-number").textContent = page.bib;
  show($("bib-claim"));
  $("bib-claim-button").onclick = async () => {
    try {
      await api(page.claim_url, { method: "POST", token });
      $("bib-claimed").replaceChildren(t("Added."), " ", h("a", { href: `/e/${page.event_code}` }, t("See my photos")));
      show($("bib-claimed"));
      $("bib-claim-button").disabled = true;
    } catch (error) {
      showError($("bib-error"), error);
    }
  };
}

$("bib-viewer-close").addEventListener("click", () => $("bib-viewer").close());
$("bib-more").addEventListener("click", () => nextCursor && loadPage(nextCursor).catch(failed));
if (pass === "") failed(new Error(t("This page needs the link from your mail.")));
else loadPage(null).catch(failed);
