// Cognito through Amplify Auth v6. Loaded with a dynamic import only when config.json
// has an "auth" block, so local mode ships and runs no Amplify code.
import { Amplify } from "aws-amplify";
import { confirmSignIn, fetchAuthSession, getCurrentUser, signIn, signOut } from "aws-amplify/auth";
import type { AuthConfig } from "./config";

export type SignInStep = "DONE" | "NEW_PASSWORD_REQUIRED";

export interface CognitoAuth {
  currentUser(): Promise<string | null>;
  signIn(username: string, password: string): Promise<SignInStep>;
  completeNewPassword(password: string): Promise<SignInStep>;
  signOut(): Promise<void>;
  idToken(): Promise<string | null>;
}

function toStep(nextStep: { signInStep: string }): SignInStep {
  if (nextStep.signInStep === "DONE") return "DONE";
  if (nextStep.signInStep === "CONFIRM_SIGN_IN_WITH_NEW_PASSWORD_REQUIRED") return "NEW_PASSWORD_REQUIRED";
  throw new Error(`This sign-in step is not supported here (${nextStep.signInStep}). Ask an administrator.`);
}

export function createCognitoAuth(config: AuthConfig): CognitoAuth {
  Amplify.configure({ Auth: { Cognito: { userPoolId: config.userPoolId, userPoolClientId: config.userPoolClientId } } });
  return {
    async currentUser() {
      try {
        const user = await getCurrentUser();
        return user.signInDetails?.loginId ?? user.username;
      } catch {
        return null;
      }
    },
    async signIn(username, password) {
      const { nextStep } = await signIn({ username, password });
      return toStep(nextStep);
    },
    async completeNewPassword(password) {
      const { nextStep } = await confirmSignIn({ challengeResponse: password });
      return toStep(nextStep);
    },
    signOut: () => signOut(),
    async idToken() {
      // fetchAuthSession refreshes expired tokens with the refresh token.
      const session = await fetchAuthSession();
      return session.tokens?.idToken?.toString() ?? null;
    },
  };
}
