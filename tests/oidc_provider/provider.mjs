// A real OpenID provider (panva's oidc-provider) on loopback, for Newsroom's single
// sign-on tests. Started by tests/integration/oidc.py with one JSON argument:
//   {"port": 0, "clients": [{client_id, client_secret, redirect_uris}],
//    "accounts": {"<sub>": {"email": ..., "email_verified": true, "name": ...}}}
// It prints "ready <issuer>" once it listens. The login page is replaced by a test hook:
// POST /test/next {"account": sub, "amr": [...], "acr": "..."} says who the next
// authorization signs in as, and consent is granted at once (a first-party client).
// POST /test/tamper {"claims": {...}, "exp": seconds from now, "foreign_key": true} rewrites
// the next ID token the token endpoint issues, signed again with the provider's own key
// (or, with foreign_key, a key it does not publish), so that the client's own checks of
// aud, exp and the signature are what is tested.

import http from 'node:http';
import { randomUUID } from 'node:crypto';

import { decodeJwt, exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';
import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2] ?? '{}');
const accounts = config.accounts ?? {};
let next = null;
let tamper = null;

async function signingKey() {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

const key = await signingKey();
const server = http.createServer();
await new Promise((resolve) => { server.listen(config.port ?? 0, '127.0.0.1', resolve); });
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: config.clients,
  jwks: { keys: [key] },
  claims: { openid: ['sub', 'acr', 'amr', 'auth_time'], email: ['email', 'email_verified'], profile: ['name'] },
  acrValues: ['urn:gov:loa:low', 'urn:gov:loa:high'],
  // The ID token carries the claims, as most enterprise providers' do.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  pkce: { required: () => true },
  ttl: { IdToken: 300, AccessToken: 300, AuthorizationCode: 60, Session: 600, Interaction: 600, Grant: 600 },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const account = accounts[sub];
    if (!account) return undefined;
    return { accountId: sub, claims: async () => ({ sub, ...account }) };
  },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
});
const callback = provider.callback();

async function body(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text ? JSON.parse(text) : {};
}

async function finishLogin(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name !== 'login' || next === null) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end(`no login arranged for ${details.prompt.name}`);
    return;
  }
  const login = { accountId: next.account, amr: next.amr, acr: next.acr };
  next = null;
  await provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
}

// The token endpoint's answer, its ID token rewritten as /test/tamper asked.
function rewriteTokenAnswer(res) {
  const end = res.end.bind(res);
  res.end = (chunk, ...rest) => {
    if (tamper === null || !chunk || res.statusCode !== 200) return end(chunk, ...rest);
    const change = tamper;
    tamper = null;
    const answer = JSON.parse(chunk.toString());
    const claims = { ...decodeJwt(answer.id_token) };
    Object.assign(claims, change.claims ?? {});
    if (change.exp !== undefined) {
      claims.exp = Math.floor(Date.now() / 1000) + change.exp;
      claims.iat = Math.min(claims.iat, claims.exp - 60);
    }
    (async () => {
      const signer = change.foreign_key ? await signingKey() : key;
      const privateKey = await importJWK(signer, 'RS256');
      answer.id_token = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: key.kid })
        .sign(privateKey);
      const text = JSON.stringify(answer);
      res.setHeader('content-length', Buffer.byteLength(text));
      end(text);
    })();
    return res;
  };
}

server.on('request', async (req, res) => {
  try {
    if (req.method === 'POST' && req.url === '/test/next') {
      next = await body(req);
      res.writeHead(204).end();
    } else if (req.method === 'POST' && req.url === '/test/tamper') {
      tamper = await body(req);
      res.writeHead(204).end();
    } else if (req.method === 'GET' && req.url.startsWith('/interaction/')) {
      await finishLogin(req, res);
    } else {
      if (req.method === 'POST' && req.url === '/token') rewriteTokenAnswer(res);
      callback(req, res);
    }
  } catch (error) {
    res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
  }
});

process.on('SIGTERM', () => { server.close(); process.exit(0); });
process.stdout.write(`ready ${issuer}\n`);
