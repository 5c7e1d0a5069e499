import { explain, post, text } from './api.js';

const form = document.getElementById('lookup');
const error = document.getElementById('lookup-error');
const button = document.getElementById('lookup-button');

function show(p) {
  text('p-number', p.case_number);
  text('p-title', p.title);
  text('p-state', p.state_text);
  text('p-unit', p.handler_unit);
  text('p-person', p.handler_person);
  text('p-due', p.resolve_by_local);
  const merged = document.getElementById('p-merged');
  merged.hidden = !p.merged_into;
  merged.textContent = p.merged_into ? `已与案件 ${p.merged_into} 合并办理，可用该编号查询。` : '';
  document.getElementById('p-rate').hidden = p.state !== 'verified';
  const steps = document.getElementById('p-steps');
  steps.replaceChildren(...p.steps.map((s) => {
    const li = document.createElement('li');
    const time = document.createElement('time');
    time.dateTime = s.at;
    time.textContent = s.at_local;
    const what = document.createElement('div');
    what.textContent = s.what + (s.text ? `：${s.text}` : '');
    li.append(time, what);
    return li;
  }));
  if (!p.steps.length) steps.replaceChildren(Object.assign(document.createElement('li'), { textContent: '已受理，正在分派' }));
  const photos = document.getElementById('p-photos');
  photos.replaceChildren(...p.photos_after.map((ph) => {
    const img = document.createElement('img');
    img.src = ph.thumbnail_url || ph.url;
    img.alt = '办理后照片';
    img.loading = 'lazy';
    return img;
  }));
  document.getElementById('p-photos-box').hidden = !p.photos_after.length;
  document.getElementById('progress').hidden = false;
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  error.hidden = true;
  const caseNumber = form.case_number.value.trim().toUpperCase();
  const last4 = form.phone_last4.value.trim();
  if (!caseNumber || !/^[0-9]{4}$/.test(last4)) {
    error.textContent = '请填写案件编号和手机号后四位（4 位数字）。';
    error.hidden = false;
    return;
  }
  button.disabled = true;
  try {
    const answer = await post('/v1/public/cases/lookup', { case_number: caseNumber, phone_last4: last4 });
    if (answer.status === 200) {
      show(answer.data);
    } else {
      document.getElementById('progress').hidden = true;
      error.textContent = explain(answer);
      error.hidden = false;
    }
  } catch {
    error.textContent = '网络不可用，请稍后再试。';
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
});
