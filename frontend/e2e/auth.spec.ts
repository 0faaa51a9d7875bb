// Every Cognito step in a real browser, with moto's server as the Cognito endpoint (Amplify's
// userPoolEndpoint) and the real local stack as the API. moto plays sign-up (it accepts any
// confirmation code: it sends no e-mail), SRP sign-in (it does not check the SRP proof, so the
// passwords are checked here through AdminInitiateAuth, which does), TOTP set-up and TOTP codes
// (checked against its fixed secret, which the set-up screen shows), new password, and
// forgot/reset password (its code comes back in a response header, and a wrong one is refused).
// Where moto cannot play a step exactly:
// - the MFA_SETUP challenge: moto writes its MFAS_CAN_SETUP parameter as a Python list
//   (['SOFTWARE_TOKEN_MFA']) where Cognito sends a JSON string (["SOFTWARE_TOKEN_MFA"]), which
//   Amplify cannot parse; that one field of moto's answer is rewritten to Cognito's format;
// - confirming a sign-up: Cognito then marks the e-mail verified, moto does not; the test
//   marks it (AdminUpdateUserAttributes), or the Authenticator would ask to verify it again;
// - a token refresh (GetTokensFromRefreshToken is not implemented): the expiry test answers
//   that one call with Cognito's recorded refusal of a revoked refresh token;
// - RevokeToken on sign-out is not implemented either; Amplify clears the session anyway.
import { expect, test, type Page, type Response } from "@playwright/test";
import { Secret, TOTP } from "otpauth";
import { cognito } from "./moto";
import { expectAccessible, shot } from "./support";

const baseUrl = () => process.env.E2E_BASE_URL!;

// These tests serve the app an AWS-mode config whose Cognito is moto's server, an origin the
// local stack's policy does not list (a deployment's lists its own Cognito endpoint).
test.use({ bypassCSP: true });
const endpoint = () => process.env.E2E_COGNITO_ENDPOINT!;
const userPoolId = () => process.env.E2E_USER_POOL_ID!;
const clientId = () => process.env.E2E_USER_POOL_CLIENT_ID!;
const PASSWORD = "Correct-Horse-42!";
const VERIFIED = (email: string) => [
  { Name: "email", Value: email },
  { Name: "email_verified", Value: "true" },
];

let counter = 0;
const newEmail = (what: string) => `${what}-${Date.now()}-${++counter}@example.com`;

const toCognito = (url: URL) => url.href.startsWith(endpoint());

/** Serve the AWS-mode config: Cognito on moto, the API on the local stack. */
async function awsMode(page: Page) {
  await page.route("**/config.json", (route) =>
    route.fulfill({
      json: { apiBaseUrl: "/api", auth: { region: "us-east-1", userPoolId: userPoolId(), userPoolClientId: clientId(), userPoolEndpoint: endpoint(), selfSignUp: true } },
    }),
  );
  await page.route(toCognito, async (route) => {
    const response = await route.fetch();
    const text = await response.text();
    let body: { ChallengeName?: string; ChallengeParameters?: Record<string, string> } = {};
    try {
      body = JSON.parse(text);
    } catch {
      // not a JSON answer (e.g. moto's page for an action it does not implement): pass it on
    }
    const mfas = body.ChallengeParameters?.MFAS_CAN_SETUP;
    if (body.ChallengeName === "MFA_SETUP" && mfas?.startsWith("['")) {
      body.ChallengeParameters!.MFAS_CAN_SETUP = JSON.stringify(JSON.parse(mfas.replace(/'/g, '"')));
      await route.fulfill({ response, body: JSON.stringify(body) });
    } else {
      await route.fulfill({ response, body: text });
    }
  });
}

function isCognitoCall(response: Response, action: string): boolean {
  return response.url().startsWith(endpoint()) && response.request().headers()["x-amz-target"] === `AWSCognitoIdentityProviderService.${action}`;
}

/** A TOTP code for `secret`, computed well inside its 30 s window (moto accepts only the current one). */
async function totpCode(secret: string): Promise<string> {
  const totp = new TOTP({ secret: Secret.fromBase32(secret.toUpperCase()), digits: 6, period: 30, algorithm: "SHA1" });
  const left = 30 - (Math.floor(Date.now() / 1000) % 30);
  if (left < 6) await new Promise((resolve) => setTimeout(resolve, (left + 1) * 1000));
  return totp.generate();
}

/** Checks a password the way Cognito does (moto's SRP sign-in accepts any). */
async function passwordWorks(email: string, password: string): Promise<boolean> {
  try {
    await cognito(endpoint(), "AdminInitiateAuth", {
      UserPoolId: userPoolId(),
      ClientId: clientId(),
      AuthFlow: "ADMIN_USER_PASSWORD_AUTH",
      AuthParameters: { USERNAME: email, PASSWORD: password },
    });
    return true;
  } catch (error) {
    if (String(error).includes("NotAuthorizedException")) return false;
    throw error;
  }
}

async function signIn(page: Page, email: string, password: string) {
  await page.getByRole("tab", { name: "Sign In" }).click();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

async function signOut(page: Page, email: string) {
  await page.getByRole("button", { name: `Signed in as ${email}` }).click();
  await page.getByRole("menuitem", { name: "Sign out" }).click();
  await expect(page.getByRole("tab", { name: "Sign In" })).toBeVisible();
}

const signedIn = (page: Page, email: string) => expect(page.getByRole("button", { name: `Signed in as ${email}` })).toBeVisible({ timeout: 30_000 });

test("sign up, confirm, sign in, set up TOTP, sign out, sign in with a code", async ({ page }) => {
  await awsMode(page);
  const email = newEmail("new");
  await page.goto(baseUrl());
  await expect(page.getByRole("tab", { name: "Sign In" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Parquet to JSON", level: 1 })).toBeVisible();
  await shot(page, "auth-01-sign-in");
  await expectAccessible(page, "sign-in");

  // Sign up: e-mail and password, then the confirmation code screen.
  await page.getByRole("tab", { name: "Create Account" }).click();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Confirm Password").fill(PASSWORD);
  await expectAccessible(page, "sign-up");
  await page.getByRole("button", { name: "Create Account" }).click();
  const code = page.getByLabel("Confirmation Code");
  await expect(code).toBeVisible();
  await shot(page, "auth-02-confirm-sign-up");
  await expectAccessible(page, "sign-up confirmation");
  await code.fill("123456"); // moto sends no e-mail and accepts any sign-up code
  await page.getByRole("button", { name: "Confirm" }).click();

  // Confirmed; signing in (automatically) meets the required MFA: set up TOTP from the QR code's secret.
  await expect(page.getByRole("heading", { name: "Setup TOTP" })).toBeVisible({ timeout: 30_000 });
  await expect(page.locator("img[alt='qr code']")).toHaveAttribute("src", /^data:image\/png;base64,/);
  const secret = (await page.locator("[data-amplify-copy] > div").first().textContent())!.trim();
  expect(secret).toMatch(/^[A-Za-z2-7]{8,}$/);
  await cognito(endpoint(), "AdminUpdateUserAttributes", {
    UserPoolId: userPoolId(),
    Username: email,
    UserAttributes: [{ Name: "email_verified", Value: "true" }],
  });
  await shot(page, "auth-03-setup-totp");
  await expectAccessible(page, "TOTP set-up");
  await page.getByLabel("Code").fill(await totpCode(secret));
  await page.getByRole("button", { name: "Confirm" }).click();
  await signedIn(page, email);
  await expect(page.getByRole("table", { name: "Jobs" })).toBeVisible();
  await shot(page, "auth-04-signed-in");
  await expectAccessible(page, "jobs, signed in");
  expect(await passwordWorks(email, PASSWORD)).toBe(true);

  // Sign out from the user menu, sign in again: now a TOTP code is asked; a wrong one is refused.
  await signOut(page, email);
  await signIn(page, email, PASSWORD);
  await expect(page.getByRole("heading", { name: "Confirm TOTP Code" })).toBeVisible({ timeout: 30_000 });
  await shot(page, "auth-05-totp-code");
  await expectAccessible(page, "TOTP code");
  await page.getByLabel("Code").fill("000000");
  await page.getByRole("button", { name: "Confirm" }).click();
  await expect(page.getByText(/Code Mismatch/i)).toBeVisible();
  await page.getByLabel("Code").fill(await totpCode(secret));
  await page.getByRole("button", { name: "Confirm" }).click();
  await signedIn(page, email);
});

test("forgot password: the emailed code resets it; a wrong code is refused", async ({ page }) => {
  await awsMode(page);
  const email = newEmail("forgot");
  await cognito(endpoint(), "AdminCreateUser", { UserPoolId: userPoolId(), Username: email, MessageAction: "SUPPRESS", UserAttributes: VERIFIED(email) });
  await cognito(endpoint(), "AdminSetUserPassword", { UserPoolId: userPoolId(), Username: email, Password: PASSWORD, Permanent: true });

  await page.goto(baseUrl());
  await page.getByRole("button", { name: "Forgot your password?" }).click();
  await page.getByLabel("Email").fill(email);
  await expectAccessible(page, "forgot password");
  const sent = page.waitForResponse((response) => isCognitoCall(response, "ForgotPassword"));
  await page.getByRole("button", { name: "Send code" }).click();
  // moto hands out the code it would have e-mailed in a header of its answer.
  const emailed = (await sent).headers()["x-moto-forgot-password-confirmation-code"];
  expect(emailed).toMatch(/^moto-confirmation-code:\d{6}$/);

  const newPassword = "Battery-Staple-77?";
  await expect(page.getByRole("heading", { name: "Reset Password" })).toBeVisible();
  await shot(page, "auth-06-reset-password");
  await expectAccessible(page, "reset password");
  const resetCode = page.getByRole("textbox", { name: /^Code/ });
  await resetCode.fill("moto-confirmation-code:000000");
  await page.getByLabel("New Password", { exact: true }).fill(newPassword);
  await page.getByLabel("Confirm Password").fill(newPassword);
  await page.getByRole("button", { name: "Submit" }).click();
  await expect(page.getByText(/Invalid code/i)).toBeVisible();
  expect(await passwordWorks(email, newPassword)).toBe(false);

  await resetCode.fill(emailed!);
  await page.getByRole("button", { name: "Submit" }).click();
  await expect(page.getByRole("tab", { name: "Sign In" })).toBeVisible();
  expect(await passwordWorks(email, newPassword)).toBe(true);
  expect(await passwordWorks(email, PASSWORD)).toBe(false);
});

test("an administrator's temporary password must be changed at the first sign-in", async ({ page }) => {
  await awsMode(page);
  const email = newEmail("invited");
  const temporary = "Temporary-Pass-1!";
  await cognito(endpoint(), "AdminCreateUser", { UserPoolId: userPoolId(), Username: email, TemporaryPassword: temporary, MessageAction: "SUPPRESS", UserAttributes: VERIFIED(email) });

  await page.goto(baseUrl());
  await signIn(page, email, temporary);
  await expect(page.getByRole("heading", { name: "Change Password" })).toBeVisible({ timeout: 30_000 });
  await shot(page, "auth-07-new-password");
  await expectAccessible(page, "new password");
  const chosen = "My-Own-Password-9#";
  await page.getByLabel("Password", { exact: true }).fill(chosen);
  await page.getByLabel("Confirm Password").fill(chosen);
  await page.getByRole("button", { name: "Change Password" }).click();
  // MFA is required: the next step is the TOTP set-up.
  await expect(page.getByRole("heading", { name: "Setup TOTP" })).toBeVisible({ timeout: 30_000 });
  expect(await passwordWorks(email, chosen)).toBe(true);
});

test("an expired session returns to the sign-in screen and says so", async ({ page }) => {
  await awsMode(page);
  await page.clock.install();
  const email = newEmail("expiry");
  await cognito(endpoint(), "AdminCreateUser", { UserPoolId: userPoolId(), Username: email, MessageAction: "SUPPRESS", UserAttributes: VERIFIED(email) });
  await cognito(endpoint(), "AdminSetUserPassword", { UserPoolId: userPoolId(), Username: email, Password: PASSWORD, Permanent: true });

  await page.goto(baseUrl());
  await signIn(page, email, PASSWORD);
  await expect(page.getByRole("heading", { name: "Setup TOTP" })).toBeVisible({ timeout: 30_000 });
  const secret = (await page.locator("[data-amplify-copy] > div").first().textContent())!.trim();
  await page.getByLabel("Code").fill(await totpCode(secret));
  await page.getByRole("button", { name: "Confirm" }).click();
  await signedIn(page, email);

  // The refresh token is revoked and the ID token's hour runs out. moto cannot answer the
  // refresh (GetTokensFromRefreshToken): Cognito's recorded answer for a revoked token is served.
  await cognito(endpoint(), "AdminUserGlobalSignOut", { UserPoolId: userPoolId(), Username: email });
  await page.route(toCognito, async (route) => {
    if (route.request().headers()["x-amz-target"] === "AWSCognitoIdentityProviderService.GetTokensFromRefreshToken") {
      await route.fulfill({
        status: 400,
        contentType: "application/x-amz-json-1.1",
        headers: { "x-amzn-errortype": "NotAuthorizedException:", "access-control-allow-origin": "*" },
        body: JSON.stringify({ __type: "NotAuthorizedException", message: "Refresh Token has been revoked" }),
      });
    } else {
      await route.fallback();
    }
  });
  await page.clock.fastForward("02:00:00");
  await page.getByRole("button", { name: "Refresh jobs" }).click();
  await expect(page.getByText("Your session has expired")).toBeVisible({ timeout: 30_000 });
  await expect(page.getByRole("tab", { name: "Sign In" })).toBeVisible();
  await shot(page, "auth-08-session-expired");
  await expectAccessible(page, "session expired");
});

test("sign-in screens stay usable at mobile width", async ({ page }) => {
  await awsMode(page);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(baseUrl());
  await expect(page.getByRole("tab", { name: "Sign In" })).toBeVisible();
  await shot(page, "auth-09-mobile-sign-in");
  await expectAccessible(page, "sign-in at mobile width");
});
