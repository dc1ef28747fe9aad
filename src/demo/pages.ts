export const DEMO_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const STYLE = `
body { font-family: system-ui, "PingFang SC", "Microsoft YaHei", sans-serif; margin: 2rem auto; max-width: 56rem; padding: 0 1rem; color: #1f2328; }
h1 small, h2 small, .en { color: #59636e; font-weight: normal; font-size: 0.8em; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #d1d9e0; padding: 0.35rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; white-space: nowrap; }
pre { background: #f6f8fa; padding: 1rem; overflow-x: auto; }
.button { display: inline-block; padding: 0.5rem 1.2rem; background: #c8102e; color: #fff; text-decoration: none; border-radius: 4px; }
.notice { border-left: 4px solid #bf8700; background: #fff8c5; padding: 0.6rem 1rem; }
.error { border-left: 4px solid #cf222e; background: #ffebe9; padding: 0.6rem 1rem; }
`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>演示门户 <small>Demo relying party</small></h1>
${body}
</body>
</html>
`;
}

// Shown first, in this order; any other claim follows alphabetically.
const CLAIM_ORDER = ['sub', 'name', 'acr', 'amr', 'auth_time', 'iss', 'aud', 'azp', 'exp', 'iat', 'sid', 'nonce', 'at_hash'];
const TIME_CLAIMS = new Set(['auth_time', 'exp', 'iat', 'nbf']);

function claimValue(name: string, value: unknown): string {
  if (TIME_CLAIMS.has(name) && typeof value === 'number') {
    return `${escapeHtml(value)} <span class="en">(${escapeHtml(new Date(value * 1000).toISOString())})</span>`;
  }
  return escapeHtml(typeof value === 'string' ? value : JSON.stringify(value));
}

function claimsTable(claims: Record<string, unknown>): string {
  const names = Object.keys(claims).sort((a, b) => {
    const ia = CLAIM_ORDER.indexOf(a);
    const ib = CLAIM_ORDER.indexOf(b);
    if (ia !== -1 || ib !== -1) return (ia === -1 ? Infinity : ia) - (ib === -1 ? Infinity : ib);
    return a < b ? -1 : 1;
  });
  const rows = names.map((name) => `<tr><th>${escapeHtml(name)}</th><td>${claimValue(name, claims[name])}</td></tr>`).join('\n');
  return `<table id="id-token-claims">\n${rows}\n</table>`;
}

export type LoggedInView = { claims: Record<string, unknown>; userinfo: Record<string, unknown> };

export function loggedInPage(view: LoggedInView): string {
  return page('演示门户 - 已登录', `
<p id="status" data-status="logged-in">已登录 <span class="en">Signed in</span> — 后端通道注销 <span class="en">Back-channel logout</span>: <strong id="backchannel-status">否 <span class="en">no</span></strong></p>
<h2>ID 令牌声明 <small>ID token claims</small></h2>
${claimsTable(view.claims)}
<h2>用户信息接口响应 <small>UserInfo response</small></h2>
<pre id="userinfo">${escapeHtml(JSON.stringify(view.userinfo, null, 2))}</pre>
<p><a class="button" id="logout" href="/demo/logout">退出登录 <span class="en">/ Log out</span></a></p>
`);
}

export type LoggedOutView = { endedByBackchannelAt?: string };

export function loggedOutPage(view: LoggedOutView = {}): string {
  const notice = view.endedByBackchannelAt
    ? `<p class="notice" id="backchannel-notice">本会话已由身份认证服务通过后端通道注销（${escapeHtml(view.endedByBackchannelAt)}）。<br><span class="en">This session was ended by back-channel logout at ${escapeHtml(view.endedByBackchannelAt)}.</span></p>`
    : '';
  return page('演示门户', `
<p id="status" data-status="${view.endedByBackchannelAt ? 'ended-by-backchannel' : 'logged-out'}">未登录 <span class="en">Not signed in</span></p>
${notice}
<p>本页面是身份认证服务自带的演示应用，通过 OpenID Connect 授权码流程（PKCE）登录。<br>
<span class="en">This page is a demo application served by the identity server; it signs in with the OpenID Connect authorization code flow (PKCE).</span></p>
<p><a class="button" id="login" href="/demo/login">登录 <span class="en">/ Log in</span></a></p>
`);
}

export function errorPage(code: string, description?: string): string {
  return page('演示门户 - 登录失败', `
<div class="error">
<p>登录失败 <span class="en">Sign-in failed</span></p>
<p>错误代码 <span class="en">Error code</span>: <code id="error-code">${escapeHtml(code)}</code></p>
${description ? `<p>说明 <span class="en">Description</span>: <span id="error-description">${escapeHtml(description)}</span></p>` : ''}
</div>
<p><a href="/demo/">返回 <span class="en">/ Back</span></a></p>
`);
}
