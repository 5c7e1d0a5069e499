// A local OpenID Connect provider for griddispatch's tests and demo: panva's certified oidc-provider with one
// confidential client and the accounts of a JSON file, on loopback only. Never for production.
//
//   OIDC_PORT=29180 OIDC_CLIENT_ID=griddispatch OIDC_CLIENT_SECRET=... \
//   OIDC_REDIRECT_URIS=http://127.0.0.1:8000/v1/auth/oidc/callback OIDC_ACCOUNTS_FILE=accounts.json node server.mjs
//
// The accounts file maps a login name to its password and claims, and is read again at every sign-in, so a test
// can change someone's claims between two sign-ins:
//   {"alice": {"password": "...", "claims": {"sub": "alice", "name": "...", "preferred_username": "alice",
//              "phone_number": "...", "griddispatch_roles": ["grid_worker@unit:110105001001"]}}}
// The sign-in form is our own: GET /interaction/<uid>; POST /interaction/<uid>/login with login and password;
// POST /interaction/<uid>/abort (Cancel) ends the sign-in with error=access_denied.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') {
    console.error(`missing ${name}`);
    process.exit(2);
  }
  return value;
};

const port = Number(process.argv[2] ?? env('OIDC_PORT', '29180'));
const issuer = `http://127.0.0.1:${port}`;
const accountsFile = env('OIDC_ACCOUNTS_FILE');
const rolesClaim = env('OIDC_ROLES_CLAIM', 'griddispatch_roles');

function accounts() {
  return JSON.parse(readFileSync(accountsFile, 'utf8'));
}

function accountBySub(sub) {
  return Object.values(accounts()).find((a) => a.claims?.sub === sub);
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), use: 'sig', alg: 'RS256' };

const configuration = {
  clients: [
    {
      client_id: env('OIDC_CLIENT_ID', 'griddispatch'),
      client_secret: env('OIDC_CLIENT_SECRET'),
      redirect_uris: env('OIDC_REDIRECT_URIS').split(',').map((u) => u.trim()).filter(Boolean),
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'phone', 'griddispatch'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    phone: ['phone_number'],
    griddispatch: [rolesClaim],
  },
  // The claims of the scopes granted go into the ID token itself (the relying party reads them there).
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, AuthorizationCode: 60, IdToken: 600 },
  async findAccount(ctx, sub) {
    const account = accountBySub(sub);
    if (!account) return undefined;
    return { accountId: sub, async claims() { return { ...account.claims, sub }; } };
  },
  // griddispatch is this provider's own first-party client: no consent screen, the requested scopes are granted.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      const found = await ctx.oidc.provider.Grant.find(grantId);
      if (found) return found;
    }
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid profile phone griddispatch');
    await grant.save();
    return grant;
  },
};

const provider = new Provider(issuer, configuration);
const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function form(uid, error) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head><body>
<h1>Sign in (local provider)</h1>${error ? `<p role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label>Login <input name="login" autocomplete="username" autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button></form>
<form method="post" action="/interaction/${escape(uid)}/abort"><button type="submit">Cancel</button></form></body></html>`;
}

async function body(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  if (req.method === 'GET' && !action) {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(form(uid));
    return;
  }
  if (req.method === 'POST' && action === 'login') {
    const params = await body(req);
    const account = accounts()[params.get('login') ?? ''];
    if (!account || account.password !== params.get('password')) {
      res.writeHead(401, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(form(uid, 'unknown login or wrong password'));
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: account.claims.sub } }, { mergeWithLastSubmission: false });
    return;
  }
  if (req.method === 'POST' && action === 'abort') {
    const result = { error: 'access_denied', error_description: 'the person cancelled the sign-in' };
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
    return;
  }
  res.writeHead(405);
  res.end();
}

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  const match = /^\/interaction\/([\w-]+)(?:\/(login|abort))?\/?$/.exec(new URL(req.url, issuer).pathname);
  if (!match) {
    callback(req, res);
    return;
  }
  try {
    await interaction(req, res, match[1], match[2]);
  } catch (err) {
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end(`interaction refused: ${err.message}`);
  }
});

server.listen(port, '127.0.0.1', () => console.log(`oidc-provider listening on ${issuer}`));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
