"""Schemathesis checks for the extranet GraphQL endpoint (loaded by run.sh).

Schemathesis's own GraphQL checks count every error that is not a refusal it knows
(`NOT_FOUND`, `UNAUTHENTICATED`, `FORBIDDEN`) as a server error, so run.sh turns them
off and this one judges instead: the server never answers 5xx, always answers a
GraphQL-shaped JSON body, and every GraphQL error in it carries a stable
`extensions.code` other than `INTERNAL` (a fault of the server's own).
"""

import json

import schemathesis


@schemathesis.check
def every_error_has_a_code(ctx, response, case):
    """No 5xx, and every GraphQL error carries `extensions.code`, none of them INTERNAL."""
    if response.status_code >= 500:
        raise AssertionError(f"answered {response.status_code}: {response.text[:500]}")
    try:
        payload = json.loads(response.content)
    except ValueError as error:
        raise AssertionError(
            f"answered {response.status_code} with a body that is not JSON ({error}): "
            f"{response.text[:500]}"
        ) from None
    answers = payload if isinstance(payload, list) else [payload]
    for answer in answers:
        if not isinstance(answer, dict) or not ("data" in answer or "errors" in answer):
            raise AssertionError(f"not a GraphQL response: {response.text[:500]}")
        for error in answer.get("errors") or []:
            extensions = error.get("extensions") if isinstance(error, dict) else None
            code = extensions.get("code") if isinstance(extensions, dict) else None
            if not isinstance(code, str) or not code:
                raise AssertionError(f"a GraphQL error without extensions.code: {error}")
            if code == "INTERNAL":
                raise AssertionError(f"the server failed: {error}")
