import { explain, post, text } from './api.js';

const form = document.getElementById('rate');
const error = document.getElementById('rate-error');
const loading = document.getElementById('loading');
const button = document.getElementById('rate-button');
// The token rides in the fragment (#t=...), which never reaches a server's log; it leaves the address bar here.
const token = new URLSearchParams(location.hash.slice(1)).get('t') || new URLSearchParams(location.search).get('t');
if (token) history.replaceState(null, '', location.pathname);

function fail(message) {
  loading.hidden = true;
  form.hidden = true;
  error.textContent = message;
  error.hidden = false;
}

async function open() {
  if (!token) return fail('评价链接不完整，请从短信中的链接打开。');
  try {
    const answer = await post('/v1/public/ratings/check', { token });
    if (answer.status !== 200) return fail(explain(answer));
    text('r-number', answer.data.case_number);
    text('r-title', answer.data.title);
    text('r-expires', answer.data.expires_at_local);
    loading.hidden = true;
    form.hidden = false;
  } catch {
    fail('网络不可用，请稍后再试。');
  }
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  error.hidden = true;
  const level = form.querySelector('input[name="level"]:checked');
  if (!level) {
    error.textContent = '请选择满意、基本满意或不满意。';
    error.hidden = false;
    return;
  }
  button.disabled = true;
  try {
    const comment = form.comment.value.trim();
    const answer = await post('/v1/public/ratings', { token, level: level.value, ...(comment ? { comment } : {}) });
    if (answer.status === 202) {
      form.hidden = true;
      text('thanks-text', answer.data.message);
      document.getElementById('thanks').hidden = false;
    } else {
      fail(explain(answer));
    }
  } catch {
    error.textContent = '网络不可用，请稍后再试。';
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
});

open();
