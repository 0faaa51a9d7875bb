// moto's server as the Cognito endpoint of the browser tests: started on a free loopback
// port by the global setup, with a user pool configured like the deployed one
// (infra/pipeline/api.py: e-mail as user name, self sign-up, TOTP MFA required, SRP client).
import { spawn, type ChildProcess } from "node:child_process";
import { openSync } from "node:fs";
import path from "node:path";

export const REGION = "us-east-1";

/** The moto server's fixed TOTP secret when MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP is on. */
export interface CognitoPool {
  endpoint: string;
  userPoolId: string;
  clientId: string;
}

/** One Cognito API call (JSON protocol). moto does not check signatures, only reads the scope. */
export async function cognito<T = Record<string, unknown>>(endpoint: string, action: string, body: object): Promise<T> {
  const response = await fetch(endpoint, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-amz-json-1.1",
      "X-Amz-Target": `AWSCognitoIdentityProviderService.${action}`,
      Authorization: `AWS4-HMAC-SHA256 Credential=test/20260101/${REGION}/cognito-idp/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${action}: HTTP ${response.status} ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}

export function startMoto(venvBin: string, port: number, logFile: string): ChildProcess {
  const log = openSync(logFile, "w");
  return spawn(path.join(venvBin, "moto_server"), ["-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", log, log],
    detached: true,
    // TOTP codes are checked (against moto's fixed secret) instead of any code passing.
    env: { ...process.env, MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP: "true" },
  });
}

export async function createPool(endpoint: string): Promise<CognitoPool> {
  const { UserPool } = await cognito<{ UserPool: { Id: string } }>(endpoint, "CreateUserPool", {
    PoolName: "e2e-users",
    UsernameAttributes: ["email"],
    AutoVerifiedAttributes: ["email"],
    AdminCreateUserConfig: { AllowAdminCreateUserOnly: false },
    AccountRecoverySetting: { RecoveryMechanisms: [{ Name: "verified_email", Priority: 1 }] },
    Policies: {
      PasswordPolicy: { MinimumLength: 12, RequireUppercase: true, RequireLowercase: true, RequireNumbers: true, RequireSymbols: true },
    },
  });
  await cognito(endpoint, "SetUserPoolMfaConfig", {
    UserPoolId: UserPool.Id,
    SoftwareTokenMfaConfiguration: { Enabled: true },
    MfaConfiguration: "ON",
  });
  const { UserPoolClient } = await cognito<{ UserPoolClient: { ClientId: string } }>(endpoint, "CreateUserPoolClient", {
    UserPoolId: UserPool.Id,
    ClientName: "web",
    GenerateSecret: false,
    ExplicitAuthFlows: ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
  });
  return { endpoint, userPoolId: UserPool.Id, clientId: UserPoolClient.ClientId };
}
