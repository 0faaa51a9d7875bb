import { screen, waitFor } from "@testing-library/react";
import { render } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { CognitoAuth, SignInStep } from "../../lib/amplify";
import { AuthGate } from "../AuthGate";

/** An in-memory user pool with one user who must set a new password at first sign-in. */
class FakePool implements CognitoAuth {
  user: string | null = null;
  password = "temporary";
  mustChange = true;
  calls: string[] = [];
  async currentUser() {
    return this.user;
  }
  async signIn(username: string, password: string): Promise<SignInStep> {
    this.calls.push(`signIn:${username}`);
    if (username !== "ana@example.com" || password !== this.password) throw new Error("Incorrect username or password.");
    if (this.mustChange) return "NEW_PASSWORD_REQUIRED";
    this.user = username;
    return "DONE";
  }
  async completeNewPassword(password: string): Promise<SignInStep> {
    this.password = password;
    this.mustChange = false;
    this.user = "ana@example.com";
    return "DONE";
  }
  async signOut() {
    this.user = null;
  }
  async idToken() {
    return this.user ? "token" : null;
  }
}

describe("sign-in", () => {
  it("refuses wrong credentials, asks for a new password, then shows the app and signs out", async () => {
    const pool = new FakePool();
    const user = userEvent.setup();
    render(
      <AuthGate auth={pool}>
        {(session) => (
          <div>
            <p>Signed in as {session.user}</p>
            <button onClick={() => void session.signOut()}>Sign out</button>
          </div>
        )}
      </AuthGate>,
    );
    await user.type(await screen.findByLabelText("Email or user name"), "ana@example.com");
    await user.type(screen.getByLabelText("Password"), "wrong");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByText("Incorrect username or password.")).toBeInTheDocument();

    await user.clear(screen.getByLabelText("Password"));
    await user.type(screen.getByLabelText("Password"), "temporary{Enter}");
    await user.type(await screen.findByLabelText("New password"), "a-much-better-one");
    await user.click(screen.getByRole("button", { name: "Set password" }));
    expect(await screen.findByText("Signed in as ana@example.com")).toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "Sign out" }));
    await waitFor(() => expect(screen.getByRole("heading", { name: "Sign in" })).toBeInTheDocument());
  });

  it("skips the form when a session already exists", async () => {
    const pool = new FakePool();
    pool.user = "bo@example.com";
    render(<AuthGate auth={pool}>{(session) => <p>Hello {session.user}</p>}</AuthGate>);
    expect(await screen.findByText("Hello bo@example.com")).toBeInTheDocument();
    expect(pool.calls).toEqual([]);
  });
});
