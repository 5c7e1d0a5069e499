// Taking photos: the phone's camera (capture) or its gallery, previews, and the files kept as they are (their
// EXIF location is the case's evidence; intake strips it from every copy it serves). Each picker has a role:
// before (处置前), after (处置后) or evidence (现场照片).

import { h } from "./dom.js";

const MAX = 10;

export function photoPicker({ role, title, id }) {
  const photos = [];
  const strip = h("div", { class: "photos", id: `${id}-list`, dataset: { count: "0" } });
  const input = h("input", { type: "file", accept: "image/*", capture: "environment", multiple: true, id, name: id });
  const redraw = () => {
    strip.replaceChildren(
      ...photos.map((p, n) => h("div", { class: "photo", dataset: { role } },
        h("img", { src: p.url, alt: `${title} ${n + 1}` }),
        h("button", { type: "button", "aria-label": `删除${title} ${n + 1}`, onclick: () => {
          URL.revokeObjectURL(p.url);
          photos.splice(n, 1);
          redraw();
        } }, "×"),
      )),
      photos.length < MAX ? h("label", { class: "pick", for: id }, "＋ 拍照", input) : null,
    );
    strip.dataset.count = String(photos.length);
  };
  input.addEventListener("change", () => {
    for (const file of input.files || []) {
      if (photos.length >= MAX) break;
      photos.push({ role, blob: file, name: file.name || `${role}.jpg`, url: URL.createObjectURL(file) });
    }
    input.value = "";
    redraw();
  });
  redraw();
  return {
    element: h("div", {}, h("div", { class: "small", style: "font-weight:700" }, title), strip),
    photos: () => photos.map(({ role: r, blob, name }) => ({ role: r, blob, name })),
    reset: () => {
      for (const p of photos) URL.revokeObjectURL(p.url);
      photos.length = 0;
      redraw();
    },
  };
}
