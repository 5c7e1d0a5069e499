// 一事一报: a problem found on patrol. Category (the matter catalog), what is seen, the phone's position (its
// micro-grid and grid resolved by GET /v1/locate and shown before sending), photos. Sending writes the report to
// the outbox with an Idempotency-Key made at that moment; it goes out now, or when the network returns.

import { ApiError, problemBox } from "./api.js";
import { matterTypes } from "./catalog.js";
import { clear, h, newKey } from "./dom.js";
import { LEVELS, label } from "./labels.js";
import { enqueue } from "./outbox.js";
import { photoPicker } from "./photos.js";
import { place as placeOf } from "./places.js";
import { spotMap } from "./spot.js";

function titleOf(text, matter) {
  const line = text.split(/\n/)[0].trim();
  if (line) return line.length > 40 ? `${line.slice(0, 40)}…` : line;
  return matter ? matter.name : "网格员巡查发现问题";
}

function position() {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) {
      reject(new Error("此设备不支持定位"));
      return;
    }
    navigator.geolocation.getCurrentPosition(resolve, reject, { enableHighAccuracy: true, timeout: 20000, maximumAge: 30000 });
  });
}

const GEO_ERRORS = { 1: "未允许定位：请在浏览器设置中允许本应用使用位置。", 2: "暂时无法定位，请到开阔处重试。", 3: "定位超时，请重试。" };

export async function renderReport(main) {
  const catalog = await matterTypes().catch(() => []);
  let point = null;
  let located = null;
  const where = h("div", { id: "where", "aria-live": "polite" });
  const mapHolder = h("div", {});
  const result = h("div", { id: "report-result", "aria-live": "polite" });
  const photos = photoPicker({ role: "evidence", title: "现场照片", id: "photo-evidence" });
  const matter = h("select", { id: "matter", name: "matter_code" },
    h("option", { value: "" }, "不确定（由系统分拣）"),
    catalog.map((m) => h("option", { value: m.code }, m.name)));
  const text = h("textarea", { id: "report-text", name: "text", required: true, maxlength: "2000", placeholder: "看到了什么：如 3号楼门口井盖缺失，有人险些踩空" });
  const address = h("input", { id: "address", name: "address", maxlength: "200", placeholder: "门牌、楼栋或标志物（选填）" });
  const locate = h("button", { type: "button", id: "locate", class: "wide" }, "重新定位");
  const submit = h("button", { type: "submit", class: "primary wide", id: "send-report" }, "发送上报");

  const showPlace = async () => {
    clear(mapHolder);
    if (!point) return;
    const coords = `${point.lat.toFixed(5)}, ${point.lon.toFixed(5)}（精度约 ${Math.round(point.accuracy || 0)} 米）`;
    try {
      located = await placeOf(point);
    } catch (err) {
      located = null;
      const offline = err instanceof ApiError && err.status === 0;
      clear(where, h("div", { class: "notice", id: "place", dataset: { located: "unknown" } },
        h("strong", {}, offline ? "离线：暂时无法确认所在网格" : "暂时无法确认所在网格"),
        h("div", { class: "small" }, `坐标 ${coords}；发送后由系统按坐标定位派单。`)));
      return;
    }
    if (located && located.unit) {
      const micro = located.unit.level === "micro_grid" ? located.unit : null;
      clear(where, h("div", { class: located.located ? "located" : "unlocated", id: "place", dataset: { located: String(located.located), unit: located.unit.code } },
        h("strong", { id: "place-grid" }, located.grid ? located.grid.name : `${located.unit.name}（${label(LEVELS, located.unit.level)}）`),
        micro ? h("div", { id: "place-micro" }, `微网格：${micro.name}`) : h("div", {}, "不在任何微网格内，将派往所在区域的指挥中心。"),
        h("div", { class: "small" }, `坐标 ${coords}`)));
      clear(mapHolder, spotMap(located, point));
    } else {
      clear(where, h("div", { class: "unlocated", id: "place", dataset: { located: "false" } },
        h("strong", {}, "当前位置不在本区范围内"), h("div", { class: "small" }, `坐标 ${coords}；请填写地址，或到现场后重新定位。`)));
    }
  };
  const findMe = async () => {
    locate.disabled = true;
    clear(where, h("p", { class: "muted" }, "正在定位…"));
    try {
      const pos = await position();
      point = { lon: Number(pos.coords.longitude.toFixed(6)), lat: Number(pos.coords.latitude.toFixed(6)), accuracy: pos.coords.accuracy };
      await showPlace();
    } catch (err) {
      point = null;
      clear(where, h("div", { class: "problem", id: "place", dataset: { located: "none" } }, GEO_ERRORS[err.code] || `无法定位：${err.message || err}`,
        h("div", { class: "small" }, "也可只填写地址后发送。")));
    } finally {
      locate.disabled = false;
    }
  };
  locate.addEventListener("click", findMe);

  const form = h("form", { id: "report", class: "stack" },
    h("h2", {}, "一事一报"),
    h("label", { for: "matter" }, "类别", matter),
    h("label", { for: "report-text" }, "情况描述", text),
    h("div", {}, h("div", { style: "font-weight:700" }, "位置"), where, mapHolder, locate),
    h("label", { for: "address" }, "地址", address),
    photos.element,
    submit,
    result,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const description = text.value.trim();
    if (!point && !address.value.trim()) {
      clear(result, h("div", { class: "problem", role: "alert" }, "请先定位，或填写地址。"));
      return;
    }
    submit.disabled = true;
    const chosen = catalog.find((m) => m.code === matter.value) || null;
    const location = {};
    if (point) Object.assign(location, { lon: point.lon, lat: point.lat });
    if (address.value.trim()) location.address = address.value.trim();
    const id = newKey("report"); // once, now: every retry of this report carries it
    try {
      await enqueue({
        id,
        kind: "report",
        summary: `上报：${titleOf(description, chosen)}`,
        place: located && located.grid ? located.grid.name : null,
        body: {
          source: "grid_app",
          ...(chosen ? { matter_code: chosen.code } : {}),
          title: titleOf(description, chosen),
          description,
          location,
          observed_at: new Date().toISOString(),
        },
        photos: photos.photos(),
      });
    } catch (err) {
      clear(result, problemBox(err));
      submit.disabled = false;
      return;
    }
    clear(result, h("div", { class: "done", id: "report-saved", dataset: { key: id } },
      navigator.onLine === false ? "已保存在手机上（离线），联网后自动发送。" : "已保存，正在发送…",
      " ", h("a", { href: "#/outbox" }, "查看待发送")));
    text.value = "";
    matter.value = "";
    photos.reset();
    submit.disabled = false;
  });
  clear(main, form);
  findMe();
  return () => {};
}
