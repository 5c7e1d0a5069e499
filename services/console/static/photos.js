// A case's photos on its page: GET /v1/cases/{id}/attachments, each thumbnail fetched with the reader's token
// (an <img src> would carry none) and shown from a blob URL; a click opens the served copy. Every copy the API
// serves is a re-encoded JPEG without metadata; where the photo's own GPS put it is listed beside it.

import { api, problemBox } from "./api.js";
import { clear, fmtTime, h } from "./dom.js";

const ROLES = { before: "处置前", after: "处置后", evidence: "现场" };

async function blobUrl(path) {
  const response = await api(path, { raw: true, headers: { Accept: "image/jpeg" } });
  return URL.createObjectURL(await response.blob());
}

function caption(item) {
  const place = item.exif_location ? `拍摄位置 ${item.exif_location.lon.toFixed(5)}, ${item.exif_location.lat.toFixed(5)}` : null;
  const when = item.exif_taken_at ? `拍摄于 ${fmtTime(item.exif_taken_at)}` : `上传于 ${fmtTime(item.uploaded_at)}`;
  return [ROLES[item.role] || item.role, when, place].filter(Boolean).join(" · ");
}

async function showFull(item, holder) {
  const url = await blobUrl(item.url);
  const close = () => {
    URL.revokeObjectURL(url);
    overlay.remove();
  };
  const overlay = h("div", { class: "photo-full", role: "dialog", "aria-label": "照片", onclick: close },
    h("img", { src: url, alt: caption(item) }),
    h("p", {}, caption(item), " （点击关闭）"),
  );
  holder.append(overlay);
}

async function load(caseId, holder) {
  let answer;
  try {
    answer = await api(`/v1/cases/${caseId}/attachments`);
  } catch (err) {
    clear(holder, problemBox(err));
    return;
  }
  if (!answer.items.length) {
    clear(holder, h("p", { class: "muted" }, "暂无照片。"));
    return;
  }
  const figures = answer.items.map((item) => {
    const img = h("img", { alt: caption(item), width: "160", loading: "lazy" });
    blobUrl(item.thumbnail_url).then((url) => { img.src = url; }, () => { img.alt = "照片无法加载"; });
    return h("figure", { class: "photo", dataset: { attachmentId: item.id, role: item.role } },
      h("button", { type: "button", class: "photo-open", title: "查看原图", onclick: () => showFull(item, holder) }, img),
      h("figcaption", { class: "small" }, caption(item)),
    );
  });
  clear(holder, h("div", { class: "photos", id: "case-photos" }, figures));
}

/** The photos card of a case page; it fills itself in. */
export function photosSection(caseId) {
  const holder = h("div", {}, h("p", { class: "muted" }, "正在加载照片…"));
  load(caseId, holder);
  return h("section", { class: "card" }, h("h3", {}, "照片"), holder);
}
