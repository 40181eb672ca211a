// Calls to the PledgeWatch API with the caller's key in the Authorization header.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function failure(response) {
  let detail = response.statusText;
  try {
    const body = await response.json();
    detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
  } catch {
    // not JSON: keep the status text
  }
  return new ApiError(response.status, `${response.status}: ${detail}`);
}

export function makeApi(key, onUnauthorized) {
  async function call(method, path, { params, body, as = "json" } = {}) {
    const query = params ? `?${new URLSearchParams(params)}` : "";
    const response = await fetch(`/api/v1${path}${query}`, {
      method,
      headers: {
        Authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
    if (response.status === 401) onUnauthorized();
    if (!response.ok) throw await failure(response);
    return as === "text" ? response.text() : response.json();
  }
  return {
    get: (path, params) => call("GET", path, { params }),
    post: (path, body) => call("POST", path, { body }),
    put: (path, body) => call("PUT", path, { body }),
    text: (path) => call("GET", path, { as: "text" }), // a printable page
  };
}
