// Sign-in with the Cognito user pool when config.json has an "auth" block; in local mode
// (auth: null) the app renders straight away and sends no token.
import { useEffect, useState, type FormEvent, type ReactNode } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import Form from "@cloudscape-design/components/form";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Spinner from "@cloudscape-design/components/spinner";
import type { CognitoAuth, SignInStep } from "../lib/amplify";

export interface Session {
  user: string;
  signOut: () => Promise<void>;
}

export interface AuthGateProps {
  auth: CognitoAuth;
  children: (session: Session) => ReactNode;
}

function SignInForm({ auth, onSignedIn }: { auth: CognitoAuth; onSignedIn: (user: string) => void }) {
  const [step, setStep] = useState<SignInStep | "CREDENTIALS">("CREDENTIALS");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [newPassword, setNewPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const next = step === "CREDENTIALS" ? await auth.signIn(username, password) : await auth.completeNewPassword(newPassword);
      if (next === "DONE") onSignedIn((await auth.currentUser()) ?? username);
      else setStep(next);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : "Sign-in failed");
    } finally {
      setBusy(false);
    }
  };

  return (
    <Box margin={{ top: "xxxl" }} padding="l">
      <div style={{ maxWidth: 420, margin: "0 auto" }}>
        <form onSubmit={(event) => void submit(event)}>
          <Container header={<Header variant="h1">Sign in</Header>}>
            <Form
              actions={
                <Button variant="primary" formAction="submit" loading={busy}>
                  {step === "CREDENTIALS" ? "Sign in" : "Set password"}
                </Button>
              }
              errorText={error}
            >
              {step === "CREDENTIALS" ? (
                <SpaceBetween size="m">
                  <FormField label="Email or user name">
                    <Input value={username} autoComplete="username" onChange={({ detail }) => setUsername(detail.value)} />
                  </FormField>
                  <FormField label="Password">
                    <Input type="password" value={password} autoComplete="current-password" onChange={({ detail }) => setPassword(detail.value)} />
                  </FormField>
                </SpaceBetween>
              ) : (
                <SpaceBetween size="m">
                  <Alert type="info">Choose a new password to finish signing in.</Alert>
                  <FormField label="New password">
                    <Input type="password" value={newPassword} autoComplete="new-password" onChange={({ detail }) => setNewPassword(detail.value)} />
                  </FormField>
                </SpaceBetween>
              )}
            </Form>
          </Container>
        </form>
      </div>
    </Box>
  );
}

export function AuthGate({ auth, children }: AuthGateProps) {
  const [user, setUser] = useState<string | null | undefined>(undefined);

  useEffect(() => {
    let live = true;
    void auth.currentUser().then((current) => live && setUser(current));
    return () => {
      live = false;
    };
  }, [auth]);

  if (user === undefined) {
    return (
      <Box textAlign="center" padding="xxl">
        <Spinner size="large" /> <span>Checking sign-in…</span>
      </Box>
    );
  }
  if (user === null) return <SignInForm auth={auth} onSignedIn={setUser} />;
  return children({
    user,
    signOut: async () => {
      await auth.signOut();
      setUser(null);
    },
  });
}
