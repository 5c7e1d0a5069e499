// intake's public API for residents (same origin), and what its refusals say in plain Chinese.
export async function post(path, body) {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  return { status: response.status, data, retryAfter: Number(response.headers.get('Retry-After') || 0) };
}

const MESSAGES = {
  case_not_found: '未找到该案件，请核对案件编号和手机号后四位。',
  rating_link_not_found: '评价链接无效，请核对短信中的链接。',
  rating_link_expired: '评价链接已过期。如需评价，请拨打 12345 热线。',
  rating_link_used: '该评价链接已使用过，感谢您的评价。',
  not_rateable: '该案件当前无需评价（可能已评价或已结案）。',
};

export function explain({ status, data, retryAfter }) {
  const code = data && typeof data.type === 'string' ? data.type.split('/').pop() : '';
  if (MESSAGES[code]) return MESSAGES[code];
  if (status === 429) return `尝试次数过多，请 ${Math.max(1, Math.ceil(retryAfter / 60))} 分钟后再试。`;
  if (status === 422) return '填写的内容有误，请检查后重试。';
  if (status === 503) return '系统繁忙，请稍后再试。';
  return '暂时无法完成，请稍后再试。';
}

export function text(id, value) {
  document.getElementById(id).textContent = value ?? '—';
}
