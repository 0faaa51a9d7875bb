// Every Cognito step a user meets — sign-up with the emailed code, sign-in, TOTP set-up (QR
// code) and TOTP code, new password, forgot/reset password — is Amplify UI's Authenticator,
// themed toward Cloudscape. Only the expired-session notice is ours.
import { useCallback, useEffect, useState, type ReactNode } from "react";
import { Authenticator, ThemeProvider, type Theme } from "@aws-amplify/ui-react";
import "@aws-amplify/ui-react/styles.css";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import type { CognitoAuth } from "../lib/amplify";

export interface Session {
  user: string;
  signOut: () => void;
}

export interface AuthGateProps {
  auth: CognitoAuth;
  productName: string;
  /** Offer "Create Account": only when the user pool lets users sign themselves up. */
  signUp?: boolean;
  children: (session: Session) => ReactNode;
}

// Cloudscape's light-mode palette and shapes (visual refresh): blue primary actions, Open Sans,
// rounded buttons, so the sign-in screens look like the rest of the app.
const cloudscapeTheme: Theme = {
  name: "cloudscape",
  tokens: {
    colors: {
      primary: {
        10: "#f0fbff",
        20: "#d1f1ff",
        40: "#75cfff",
        60: "#0972d3",
        80: "#0972d3",
        90: "#033160",
        100: "#002b66",
      },
      font: { primary: "#000716", secondary: "#414d5c", tertiary: "#5f6b7a" },
      border: { primary: "#7d8998", secondary: "#c6c6cd", tertiary: "#e9ebed" },
    },
    fonts: {
      default: {
        variable: "'Open Sans', 'Helvetica Neue', Roboto, Arial, sans-serif",
        static: "'Open Sans', 'Helvetica Neue', Roboto, Arial, sans-serif",
      },
    },
    radii: { small: "8px", medium: "16px", large: "20px" },
    components: {
      button: { borderRadius: "20px", fontWeight: "700", primary: { backgroundColor: "#0972d3" } },
      fieldcontrol: { borderRadius: "8px" },
      authenticator: { router: { borderWidth: "0", boxShadow: "0 1px 8px 2px rgba(0, 7, 22, 0.12)" } },
    },
  },
};

export function AuthGate({ auth, productName, signUp = false, children }: AuthGateProps) {
  const [expired, setExpired] = useState(false);
  useEffect(() => auth.onSessionExpired(() => setExpired(true)), [auth]);
  const signedIn = useCallback(() => setExpired(false), []);

  return (
    <ThemeProvider theme={cloudscapeTheme}>
      <Authenticator
        loginMechanisms={["email"]}
        hideSignUp={!signUp}
        formFields={{ setupTotp: { QR: { totpIssuer: productName } } }}
        components={{
          Header: () => (
            <Box padding={{ top: "xxxl", bottom: "l" }} textAlign="center">
              <Box variant="h1">{productName}</Box>
              {expired && (
                <Box margin={{ top: "m" }} textAlign="left">
                  <Alert type="warning" header="Your session has expired">
                    Sign in again to continue.
                  </Alert>
                </Box>
              )}
            </Box>
          ),
        }}
      >
        {({ user, signOut }) => (
          <SignedIn
            onMount={signedIn}
            session={{ user: user?.signInDetails?.loginId ?? user?.username ?? "", signOut: () => signOut?.() }}
            render={children}
          />
        )}
      </Authenticator>
    </ThemeProvider>
  );
}

function SignedIn({ session, render, onMount }: { session: Session; render: AuthGateProps["children"]; onMount: () => void }) {
  useEffect(onMount, [onMount]);
  return <>{render(session)}</>;
}
