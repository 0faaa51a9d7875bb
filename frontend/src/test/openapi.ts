// Every response a test mocks for the API is checked against docs/openapi.json, the same
// document the server's handlers generate: a mock cannot invent a field, a status or a shape
// the real API never sends. Objects the document describes with "properties" are closed
// (additionalProperties: false) for this check, since pydantic leaves them open in the schema
// but the server only ever sends the declared fields.
import Ajv2020, { type ValidateFunction } from "ajv/dist/2020";
import addFormats from "ajv-formats";
import spec from "../../../docs/openapi.json";

const DOC_ID = "https://api.local/openapi.json";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function closeObjects(node: Json): Json {
  if (Array.isArray(node)) return node.map(closeObjects);
  if (node === null || typeof node !== "object") return node;
  const copy: { [key: string]: Json } = {};
  for (const [key, value] of Object.entries(node)) copy[key] = closeObjects(value);
  if (typeof copy.properties === "object" && copy.properties !== null && !("additionalProperties" in copy)) {
    copy.additionalProperties = false;
  }
  return copy;
}

const document = closeObjects(spec as unknown as Json) as {
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }> }>>;
};

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ ...(document as object), $id: DOC_ID });

const routes = Object.keys(document.paths).map((template) => ({
  template,
  pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`),
}));

const validators = new Map<string, ValidateFunction>();

function validatorFor(ref: string): ValidateFunction {
  let validate = validators.get(ref);
  if (!validate) {
    validate = ajv.compile({ $ref: `${DOC_ID}${ref}` });
    validators.set(ref, validate);
  }
  return validate;
}

/** Why a response to `method path` is not one the API can send, or null when it is. */
export function responseProblem(method: string, path: string, status: number, body: unknown): string | null {
  const route = routes.find((candidate) => candidate.pattern.test(path));
  if (!route) return `${method} ${path}: no such route in docs/openapi.json`;
  const operation = document.paths[route.template]![method.toLowerCase()];
  if (!operation) return `${method} ${route.template}: no such operation in docs/openapi.json`;
  const response = operation.responses[String(status)];
  if (!response) return `${method} ${route.template}: status ${status} is not documented`;
  const schema = response.content?.["application/json"]?.schema;
  if (!schema) return body === undefined ? null : `${method} ${route.template} ${status}: documented without a body`;
  // An empty body (a 204) is what Powertools documents as {"type": "null"}.
  if (body === undefined) return (schema as { type?: string }).type === "null" ? null : `${method} ${route.template} ${status}: no body`;
  const validate = schema.$ref ? validatorFor(schema.$ref) : ajv.compile(schema);
  if (validate(body)) return null;
  const errors = ajv.errorsText(validate.errors, { separator: "; ", dataVar: "body" });
  return `${method} ${route.template} ${status}: ${errors}`;
}

/** Checks a mocked fetch Response whose URL is under `apiBase`. */
export async function mockedResponseProblem(apiBase: string, request: Request, response: Response): Promise<string | null> {
  if (!request.url.startsWith(`${apiBase}/`)) return null;
  const path = new URL(request.url).pathname.slice(new URL(apiBase).pathname.length);
  const text = await response.clone().text();
  let body: unknown;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch {
    return `${request.method} ${path}: the mocked body is not JSON`;
  }
  return responseProblem(request.method, path, response.status, body);
}
