// The one runtime configuration, fetched from /config.json at startup. It is served next
// to the app (and rewritten per environment by the deployment) rather than baked into the
// bundle, so the same build runs locally and in every AWS stage.

export interface AuthConfig {
  region: string;
  userPoolId: string;
  userPoolClientId: string;
  /** Another Cognito endpoint than AWS's (moto's server in the browser tests). */
  userPoolEndpoint?: string;
  /** Whether users may create their own accounts (the stack's etl:selfSignUp, off by
   * default); without it the sign-in screen has no "Create Account" tab. */
  selfSignUp: boolean;
}

export interface AppConfig {
  apiBaseUrl: string;
  auth: AuthConfig | null;
}

export class ConfigError extends Error {}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === "string" && value.length > 0;
}

export function parseConfig(raw: unknown): AppConfig {
  if (typeof raw !== "object" || raw === null) throw new ConfigError("config.json is not an object");
  const { apiBaseUrl, auth } = raw as Record<string, unknown>;
  if (!isNonEmptyString(apiBaseUrl)) throw new ConfigError("config.json: apiBaseUrl must be a non-empty string");
  if (auth === null || auth === undefined) return { apiBaseUrl: apiBaseUrl.replace(/\/+$/, ""), auth: null };
  if (typeof auth !== "object") throw new ConfigError("config.json: auth must be null or an object");
  const { region, userPoolId, userPoolClientId, userPoolEndpoint, selfSignUp } = auth as Record<string, unknown>;
  if (!isNonEmptyString(region) || !isNonEmptyString(userPoolId) || !isNonEmptyString(userPoolClientId)) {
    throw new ConfigError("config.json: auth needs region, userPoolId and userPoolClientId");
  }
  if (userPoolEndpoint !== undefined && !isNonEmptyString(userPoolEndpoint)) {
    throw new ConfigError("config.json: auth.userPoolEndpoint must be a URL when present");
  }
  if (selfSignUp !== undefined && typeof selfSignUp !== "boolean") {
    throw new ConfigError("config.json: auth.selfSignUp must be true or false when present");
  }
  const base = { region, userPoolId, userPoolClientId, selfSignUp: selfSignUp ?? false };
  return { apiBaseUrl: apiBaseUrl.replace(/\/+$/, ""), auth: userPoolEndpoint ? { ...base, userPoolEndpoint } : base };
}

export async function loadConfig(url = `${import.meta.env.BASE_URL}config.json`): Promise<AppConfig> {
  // no-store: a redeploy that changes the config must be seen on the next page load.
  const response = await fetch(url, { cache: "no-store" });
  if (!response.ok) throw new ConfigError(`Could not load ${url} (HTTP ${response.status})`);
  return parseConfig(await response.json());
}
