"""The whitelist of callable functions in model text, with their arity and float versions.

Nothing else can be called in model text. The float versions serve the constant evaluator of
``[ini]`` values; the resolver maps the same names to sympy (see ``expressions.py``).
"""

from __future__ import annotations

import math

#: name -> (min args, max args or None for variadic)
ARITY: dict[str, tuple[int, int | None]] = {
    "exp": (1, 1),
    "log": (1, 1),
    "log10": (1, 1),
    "sqrt": (1, 1),
    "abs": (1, 1),
    "min": (2, None),
    "max": (2, None),
    "logit": (1, 1),
    "expit": (1, 1),
    "sin": (1, 1),
    "cos": (1, 1),
}

FUNCTIONS = tuple(ARITY)

#: names that look callable to a user but belong elsewhere in the language
MISPLACED = {
    "fix": "fix() is only for [ini] values (name = fix(1.2), eta ~ fix(0.1))",
    "linCmt": "linCmt() must be the whole right-hand side: cp = linCmt()",
    "add": "add() is an error model: use it after '~' (cp ~ add(add_sd))",
    "prop": "prop() is an error model: use it after '~' (cp ~ prop(prop_sd))",
    "lnorm": "lnorm() is an error model: use it after '~' (cp ~ lnorm(sd))",
}


def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _logit(x: float) -> float:
    return math.log(x / (1.0 - x))


FLOAT_IMPL = {
    "exp": math.exp,
    "log": math.log,
    "log10": math.log10,
    "sqrt": math.sqrt,
    "abs": abs,
    "min": min,
    "max": max,
    "logit": _logit,
    "expit": _expit,
    "sin": math.sin,
    "cos": math.cos,
}


def arity_message(name: str, n_args: int) -> str | None:
    """The error message if ``name`` cannot take ``n_args`` arguments, else None."""
    low, high = ARITY[name]
    if high is None and n_args < low:
        return f"{name}() takes at least {low} arguments ({n_args} given)"
    if high is not None and not low <= n_args <= high:
        plural = "argument" if low == 1 else "arguments"
        return f"{name}() takes exactly {low} {plural} ({n_args} given)"
    return None
