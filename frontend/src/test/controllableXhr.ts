// A browser XMLHttpRequest stand-in whose upload progress the test drives byte by byte.
// msw only reports upload progress once the response is ready (all at 100%), so tests that
// watch a bar move use this instead; everything above XHR (api.ts, hooks, UI) stays real.
export class ControllableXhr extends EventTarget {
  static instances: ControllableXhr[] = [];
  upload = new EventTarget();
  status = 0;
  responseText = "";
  method = "";
  url = "";
  body: FormData | null = null;
  aborted = false;
  requestHeaders: Record<string, string> = {};
  responseHeaders: Record<string, string> = {};

  constructor() {
    super();
    ControllableXhr.instances.push(this);
  }
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name: string, value: string) {
    this.requestHeaders[name] = value;
  }
  getResponseHeader(name: string): string | null {
    return this.responseHeaders[name] ?? null;
  }
  send(body: FormData) {
    this.body = body;
  }
  abort() {
    this.aborted = true;
    this.dispatchEvent(new Event("abort"));
  }
  progress(loaded: number, total: number) {
    const event = new Event("progress") as Event & { loaded: number; total: number; lengthComputable: boolean };
    Object.assign(event, { loaded, total, lengthComputable: true });
    this.upload.dispatchEvent(event);
  }
  respond(status: number, text = "") {
    this.status = status;
    this.responseText = text;
    this.dispatchEvent(new Event("load"));
  }
}
