"""The augmentation contract, and augmentations that combine others.

An augmentation maps a batch to a randomly augmented view of the whole batch:
``view = augmentation(batch, generator=g)``. Built-in augmentations derive from
:class:`Augmentation`, draw all their randomness from ``generator`` (so a seed
reproduces every view) and keep their settings as plain attributes (so they
pickle, clone and save as JSON). Any other callable ``f(batch) -> view`` works
too; the estimator passes ``generator=`` to it only if it accepts that keyword.

An augmentation may also learn from the training data: when it has a ``fit``
method and ``requires_fit`` is true, the estimator calls ``fit(X)`` once before
training, on a copy (the ``augmentation`` parameter is never changed), with
``X`` the whole training set as one batch. What ``fit`` learns is kept as
tensor attributes whose names end in ``_`` (``fitted_state`` lists them), so
that pickling and ``save``/``load`` keep it.
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, cast

import torch

from ._params import MAX_DEPTH, Members, Weights, check_declared, short_repr

__all__ = [
    "Augmentation",
    "Compose",
    "Identity",
    "MemberAugmentations",
    "RandomChoice",
    "augmentation_state",
    "call_augmentation",
    "call_augmentation_shard",
    "check_augmentation",
    "fit_augmentation",
    "set_augmentation_state",
]


class Augmentation:
    """Base class of the batched augmentations.

    Subclasses implement :meth:`augment`. Their ``__init__`` stores its arguments
    under the same names, unchanged, which :meth:`get_params` reads back; so
    augmentations clone as scikit-learn estimators do (``sklearn.base.clone``,
    ``GridSearchCV`` over ``augmentation__<parameter>``).

    A subclass may declare the data it is for (``modality``) and the values
    its parameters may take (``_parameter_constraints``, a dict of allowed
    alternatives per parameter, as the built-in augmentations do); every call
    and :func:`check_augmentation` check what is declared, and nothing else.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.augment import Augmentation
    >>> class Scale(Augmentation):
    ...     def __init__(self, factor=2.0):
    ...         self.factor = factor
    ...     def augment(self, batch, generator=None):
    ...         return batch * self.factor
    >>> Scale(3.0), Scale(3.0).get_params()
    (Scale(factor=3.0), {'factor': 3.0})
    >>> Scale(3.0)(torch.ones(1, 2)).tolist()
    [[3.0, 3.0]]
    >>> from sklearn.base import clone
    >>> clone(Scale(3.0)).set_params(factor=4.0)
    Scale(factor=4.0)
    """

    @property
    def requires_fit(self) -> bool:
        """Whether :meth:`fit` learns from the training data.

        The estimator calls ``fit`` only then, so that other augmentations
        cost nothing.
        """
        return False

    def augment(self, batch: Any, generator: torch.Generator | None = None) -> Any:
        """Return a randomly augmented view of ``batch``."""
        raise NotImplementedError  # pragma: no cover - abstract

    def fit(self, X: Any) -> Augmentation:
        """Learn from the training data ``X`` (one batch of all rows); no-op here."""
        return self

    #: the tensor attributes that :meth:`fit` sets (the augmentation's state)
    fitted_state_names: tuple[str, ...] = ()

    def fitted_state(self) -> dict[str, torch.Tensor]:
        """Return what :meth:`fit` learnt: the attributes in ``fitted_state_names``."""
        return {
            name: getattr(self, name)
            for name in self.fitted_state_names
            if isinstance(getattr(self, name, None), torch.Tensor)
        }

    def set_fitted_state(self, state: dict[str, torch.Tensor]) -> None:
        """Restore what :meth:`fitted_state` returned (from a saved file, say).

        Names other than ``fitted_state_names`` are refused, and each value
        passes :meth:`check_fitted_state` before it is set.
        """
        unknown = sorted(set(state) - set(self.fitted_state_names))
        if unknown:
            raise ValueError(
                f"{type(self).__name__} keeps no fitted state named {unknown}; "
                f"its state is {list(self.fitted_state_names)}."
            )
        for name, value in state.items():
            setattr(self, name, self.check_fitted_state(name, value))

    def check_fitted_state(self, name: str, value: torch.Tensor) -> torch.Tensor:
        """Return ``value`` if it can be the fitted ``name``, else raise ValueError."""
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"The fitted {name} must be a tensor, got {value!r}.")
        return value

    def __call__(self, batch: Any, generator: torch.Generator | None = None) -> Any:
        self.check_params()
        return self.augment(batch, generator=generator)

    #: the data this augmentation is for: ``"tabular"``, ``"image"``,
    #: ``"graph"``, or None when it works on any data (or its members decide)
    modality: str | None = None

    #: the values each constructor parameter may take: a list of alternatives
    #: per parameter name (see ``rince_sklearn.augment._params``); parameters
    #: not listed are not checked
    _parameter_constraints: dict[str, list[Any]] = {}

    def check_params(self) -> Augmentation:
        """Check this augmentation's own parameters against their declared ranges.

        Only what the class declares in ``_parameter_constraints`` is checked
        (nothing, for a subclass that declares nothing), and only this
        object's own parameters: :func:`check_augmentation` checks the members
        of :class:`Compose` and the like too. Called at the start of every
        call, so that no batch is augmented with values out of range.

        Returns
        -------
        self : Augmentation

        Raises
        ------
        TypeError
            A parameter's type is not allowed (a bool where an int is
            expected, a float where an int is expected, ...).
        ValueError
            A parameter is out of its range; the message names the class, the
            parameter, the value and what is allowed.
        """
        constraints = type(self)._parameter_constraints
        if constraints:
            names = _param_names(type(self))
            check_declared(self, {k: v for k, v in constraints.items() if k in names})
        return self

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Return the constructor's arguments as a dict (scikit-learn's convention).

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of parameters that are augmentations
            themselves, as ``"<name>__<parameter>"``. Members of a list (the
            ``augmentations`` of :class:`Compose`) are not listed, but
            :meth:`set_params` reaches them by index.

        Returns
        -------
        params : dict of str to object
        """
        out: dict[str, Any] = {}
        for name in _param_names(type(self)):
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{k}", v) for k, v in value.get_params().items())
            out[name] = value
        return out

    def set_params(self, **params: Any) -> Augmentation:
        """Set parameters, scikit-learn's way (``GridSearchCV`` calls it).

        Keys are constructor parameters, ``"<name>__<parameter>"`` for a
        parameter of a parameter that is an augmentation, or
        ``"<name>__<index>__<parameter>"`` for a member of a list, for example
        ``augmentations__0__std`` for the first member of a :class:`Compose`
        (that member is changed in place, as scikit-learn changes the steps of
        a pipeline). Values are checked when the augmentation is used.

        Parameters
        ----------
        **params : dict
            The new values.

        Returns
        -------
        self : Augmentation

        Examples
        --------
        >>> from rince_sklearn.augment import Compose, GaussianNoise
        >>> views = Compose([GaussianNoise(0.1)]).set_params(augmentations__0__std=0.3)
        >>> views
        Compose(augmentations=[GaussianNoise(std=0.3)])
        """
        if not params:
            return self
        names = _param_names(type(self))
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, delim, sub_key = key.partition("__")
            if name not in names:
                raise ValueError(
                    f"Invalid parameter {name!r} for {type(self).__name__}: its "
                    f"parameters are {list(names)}."
                )
            if delim:
                nested.setdefault(name, {})[sub_key] = value
            else:
                setattr(self, name, value)
        for name, sub_params in nested.items():
            _set_nested(self, name, getattr(self, name), sub_params)
        return self

    def __repr__(self) -> str:
        params = self.get_params(deep=False)
        args = ", ".join(f"{k}={v!r}" for k, v in params.items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return False
        assert isinstance(other, Augmentation)
        return self.get_params(deep=False) == other.get_params(deep=False)

    __hash__ = None  # type: ignore[assignment]


#: ``_param_names``' answers, by class (read on every call of an augmentation)
_PARAM_NAMES: dict[type, tuple[str, ...]] = {}


def _param_names(cls: type) -> tuple[str, ...]:
    """Return the names of ``cls.__init__``'s parameters, in order (no ``self``)."""
    names = _PARAM_NAMES.get(cls)
    if names is None:
        names = _PARAM_NAMES[cls] = _read_param_names(cls)
    return names


def _read_param_names(cls: type) -> tuple[str, ...]:
    init = cls.__init__  # type: ignore[misc]
    if init is object.__init__:
        return ()
    parameters = inspect.signature(init).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        raise TypeError(
            f"{cls.__name__}.__init__ takes *args, so its parameters cannot be "
            "read back (scikit-learn's convention): name each argument."
        )
    return tuple(
        p.name
        for p in parameters
        if p.name != "self" and p.kind is not inspect.Parameter.VAR_KEYWORD
    )


def _set_nested(owner: Any, name: str, value: Any, params: dict[str, Any]) -> None:
    """Set ``params`` on ``owner``'s parameter ``name`` (an object or a list)."""
    if hasattr(value, "set_params") and not isinstance(value, type):
        value.set_params(**params)
        return
    where = f"{type(owner).__name__}'s parameter {name!r}"
    if not isinstance(value, (list, tuple)):
        raise ValueError(
            f"{where} has no parameters of its own, so {sorted(params)} cannot be "
            f"set in it; set {name!r} itself."
        )
    by_member: dict[int, dict[str, Any]] = {}
    for key, v in params.items():
        position, delim, rest = key.partition("__")
        if not (position.isdigit() and int(position) < len(value) and delim):
            raise ValueError(
                f"Cannot set {name}__{key}: a member of {where} is set as "
                f"{name}__<index>__<parameter>, with index < {len(value)}; "
                f"to replace members, set {name!r} itself."
            )
        by_member.setdefault(int(position), {})[rest] = v
    for index, member_params in by_member.items():
        member = value[index]
        if not hasattr(member, "set_params") or isinstance(member, type):
            raise ValueError(
                f"Member {index} of {where} ({short_repr(member)}) has no "
                f"set_params, so {sorted(member_params)} cannot be set in it."
            )
        member.set_params(**member_params)


class Identity(Augmentation):
    """Return the batch unchanged (useful to switch an augmentation off).

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.augment import Identity
    >>> x = torch.ones(3, 2)
    >>> Identity()(x) is x
    True
    """

    def augment(self, batch: Any, generator: torch.Generator | None = None) -> Any:
        """Return ``batch`` itself."""
        return batch


class MemberAugmentations(Augmentation):
    """Base class of augmentations made of others (``self.augmentations``).

    It fits the members that learn from the training data, and gathers their
    fitted states (keys prefixed ``"<index>."``).

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.augment import (Compose, MarginalCorruption,
    ...     MemberAugmentations)
    >>> views = Compose([MarginalCorruption(0.5)])
    >>> isinstance(views, MemberAugmentations), views.requires_fit
    (True, True)
    >>> sorted(views.fit(torch.ones(3, 2)).fitted_state())
    ['0.pool_']
    """

    augmentations: Sequence[Callable]

    @property
    def requires_fit(self) -> bool:  # noqa: D102 - documented on Augmentation
        return any(getattr(a, "requires_fit", False) for a in self.augmentations)

    def fit(self, X: Any) -> Augmentation:
        """Fit every member that learns from the training data."""
        for augmentation in self.augmentations:
            if getattr(augmentation, "requires_fit", False):
                cast(Any, augmentation).fit(X)
        return self

    def fitted_state(self) -> dict[str, torch.Tensor]:
        """Return the members' fitted states, keys prefixed ``"<index>."``."""
        return _members_state(self.augmentations)

    def set_fitted_state(self, state: dict[str, torch.Tensor]) -> None:
        """Restore the members' fitted states."""
        _set_members_state(self.augmentations, state)


class Compose(MemberAugmentations):
    """Apply augmentations one after the other.

    Parameters
    ----------
    augmentations : list of callables
        Applied in order; each receives the previous one's output (at most 64;
        the list is kept as given, as scikit-learn keeps parameters).

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.augment import Compose, GaussianNoise, MarginalCorruption
    >>> views = Compose([MarginalCorruption(0.3), GaussianNoise(0.1)])
    >>> views(torch.randn(8, 4), generator=torch.Generator().manual_seed(0)).shape
    torch.Size([8, 4])
    """

    _parameter_constraints: dict[str, list[Any]] = {"augmentations": [Members()]}

    def __init__(self, augmentations: Sequence[Callable]) -> None:
        self.augmentations = augmentations

    def augment(self, batch: Any, generator: torch.Generator | None = None) -> Any:
        """Apply every augmentation in turn."""
        for augmentation in self.augmentations:
            batch = call_augmentation(augmentation, batch, generator)
        return batch

    def augment_shard(
        self, batch: Any, shard: Any, generator: torch.Generator | None = None
    ) -> Any:
        """Apply every augmentation in turn to one process's shard of a batch."""
        for augmentation in self.augmentations:
            batch = call_augmentation_shard(augmentation, batch, shard, generator)
        return batch


class RandomChoice(MemberAugmentations):
    """Apply one augmentation, drawn at random for the whole batch.

    Parameters
    ----------
    augmentations : list of callables
        The candidates (1 to 64).
    p : list of float, default=None
        Their probabilities, one finite weight >= 0 per candidate (normalised,
        not all 0); uniform when None.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.augment import Identity, RandomChoice
    >>> def negate(batch):
    ...     return -batch
    >>> choice = RandomChoice([Identity(), negate], p=[0.0, 1.0])
    >>> choice(torch.ones(2, 3), generator=torch.Generator()).sum().item()
    -6.0
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "augmentations": [Members(min_len=1)],
        "p": [Weights(), None],
    }

    def __init__(
        self, augmentations: Sequence[Callable], p: Sequence[float] | None = None
    ) -> None:
        self.augmentations = augmentations
        self.p = p

    def augment(self, batch: Any, generator: torch.Generator | None = None) -> Any:
        """Apply one randomly chosen augmentation."""
        k = len(self.augmentations)
        weights = _weights(self.p, k)
        device = generator.device if generator is not None else "cpu"
        choice = int(torch.multinomial(weights.to(device), 1, generator=generator))
        return call_augmentation(self.augmentations[choice], batch, generator)

    def augment_shard(
        self, batch: Any, shard: Any, generator: torch.Generator | None = None
    ) -> Any:
        """Apply one augmentation to a shard, the same one on every process.

        The choice is drawn from ``shard.generator``, whose state is the same
        on every process, so the whole global batch gets one augmentation, as
        in a single process.
        """
        shared = shard.generator if shard.generator is not None else generator
        k = len(self.augmentations)
        weights = _weights(self.p, k)
        device = shared.device if shared is not None else "cpu"
        choice = int(torch.multinomial(weights.to(device), 1, generator=shared))
        return call_augmentation_shard(
            self.augmentations[choice], batch, shard, generator
        )


def _weights(p: Sequence[float] | None, k: int) -> torch.Tensor:
    """Return the ``k`` members' weights: ``p``, or uniform when None."""
    return torch.ones(k) if p is None else torch.tensor(p, dtype=torch.float32)


def _members_state(members: Sequence[Callable]) -> dict[str, torch.Tensor]:
    state = {}
    for i, member in enumerate(members):
        for name, value in augmentation_state(member).items():
            state[f"{i}.{name}"] = value
    return state


def _set_members_state(
    members: Sequence[Callable], state: dict[str, torch.Tensor]
) -> None:
    used: set[str] = set()
    for i, member in enumerate(members):
        prefix = f"{i}."
        own = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        if own:
            set_augmentation_state(member, own)
            used.update(prefix + k for k in own)
    if set(state) - used:
        raise ValueError(
            f"No member holds the fitted state {sorted(set(state) - used)} "
            f"(there are {len(members)} members)."
        )


def fit_augmentation(augmentation: Any, X: Any) -> Any:
    """Return ``augmentation`` fitted on ``X`` (a copy when it learns anything).

    Augmentations whose ``requires_fit`` is false (and callables without
    ``fit``) are returned as they are; the others are deep-copied and their
    ``fit(X)`` is called, so the object passed in is never changed.

    Parameters
    ----------
    augmentation : callable or None
        The augmentation (the estimator's ``augmentation`` once resolved).
    X : Tensor, GraphBatch or callable
        The training data as one batch, or a function without arguments that
        returns it (called only when needed, since building the whole batch
        costs memory).

    Returns
    -------
    augmentation : callable or None
        The fitted copy, or ``augmentation`` itself.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.augment import MarginalCorruption, fit_augmentation
    >>> corruption = MarginalCorruption(0.5)
    >>> fitted = fit_augmentation(corruption, torch.arange(6.0).reshape(3, 2))
    >>> fitted is corruption, fitted.pool_.shape, hasattr(corruption, "pool_")
    (False, torch.Size([3, 2]), False)
    """
    if augmentation is None or not getattr(augmentation, "requires_fit", False):
        return augmentation
    if not callable(getattr(augmentation, "fit", None)):
        return augmentation
    data = X() if callable(X) else X
    fitted = copy.deepcopy(augmentation)
    fitted.fit(data)
    return fitted


def augmentation_state(augmentation: Any) -> dict[str, torch.Tensor]:
    """Return a fitted augmentation's learnt tensors (empty for most).

    The state is a flat dict of tensors, with keys ``"name"`` or, inside
    :class:`Compose` and :class:`RandomChoice`, ``"<index>.name"``: plain data
    that ``save`` can store without pickling.

    Parameters
    ----------
    augmentation : callable or None

    Returns
    -------
    dict of str to Tensor

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.augment import (Compose, GaussianNoise,
    ...     MarginalCorruption, augmentation_state, fit_augmentation)
    >>> views = Compose([MarginalCorruption(0.5), GaussianNoise(0.1)])
    >>> sorted(augmentation_state(fit_augmentation(views, torch.ones(4, 2))))
    ['0.pool_']
    """
    fitted_state = getattr(augmentation, "fitted_state", None)
    if augmentation is None or not callable(fitted_state):
        return {}
    return dict(fitted_state())


def set_augmentation_state(augmentation: Any, state: dict[str, torch.Tensor]) -> None:
    """Restore a state returned by :func:`augmentation_state` (in place).

    Parameters
    ----------
    augmentation : callable
        An unfitted augmentation built with the same parameters.
    state : dict of str to Tensor

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.augment import (MarginalCorruption,
    ...     augmentation_state, fit_augmentation, set_augmentation_state)
    >>> fitted = fit_augmentation(MarginalCorruption(0.5), torch.rand(5, 3))
    >>> fresh = MarginalCorruption(0.5)
    >>> set_augmentation_state(fresh, augmentation_state(fitted))
    >>> torch.equal(fresh.pool_, fitted.pool_)
    True
    """
    if not state:
        return
    setter = getattr(augmentation, "set_fitted_state", None)
    if not callable(setter):
        raise ValueError(
            f"{augmentation!r} keeps no fitted state, but one was given: "
            f"{sorted(state)}."
        )
    setter(state)


def _accepts_generator(func: Callable) -> bool:
    if isinstance(func, Augmentation):
        return True
    try:  # called twice per training batch: look each callable's signature up once
        return _signature_takes_generator(func)
    except TypeError:  # an unhashable callable
        return _signature_takes_generator.__wrapped__(func)


@functools.lru_cache(maxsize=256)
def _signature_takes_generator(func: Callable) -> bool:
    try:
        parameters = inspect.signature(func).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False
    return "generator" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


def call_augmentation(
    augmentation: Callable, batch: Any, generator: torch.Generator | None
) -> Any:
    """Call ``augmentation`` on ``batch``, passing ``generator`` if it takes one.

    Parameters
    ----------
    augmentation : callable
        An :class:`Augmentation`, or any callable ``f(batch)`` or
        ``f(batch, generator=...)``.
    batch : Tensor or GraphBatch
        The batch to augment.
    generator : torch.Generator or None
        Passed on as ``generator=`` when ``augmentation`` accepts that keyword
        (or ``**kwargs``).

    Returns
    -------
    view : Tensor or GraphBatch
        The augmented view.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.augment import call_augmentation
    >>> def noisy(batch, generator=None):
    ...     return batch + torch.randn(batch.shape, generator=generator)
    >>> x = torch.zeros(2, 2)
    >>> a = call_augmentation(noisy, x, torch.Generator().manual_seed(0))
    >>> b = call_augmentation(noisy, x, torch.Generator().manual_seed(0))
    >>> torch.equal(a, b)
    True
    >>> call_augmentation(lambda batch: batch + 1, torch.zeros(1, 2), None).tolist()
    [[1.0, 1.0]]
    """
    if _accepts_generator(augmentation):
        return augmentation(batch, generator=generator)
    return augmentation(batch)


def call_augmentation_shard(
    augmentation: Callable, batch: Any, shard: Any, generator: torch.Generator | None
) -> Any:
    """Augment one process's shard of a global batch (distributed training).

    An augmentation whose views depend on the whole batch (SCARF's donor rows,
    column statistics, one choice per batch) implements
    ``augment_shard(batch, shard, generator=None)`` and reads what it needs
    from the other processes through ``shard`` (a
    :class:`~rince_sklearn.distributed.BatchShard`: ``shard.gather(x)``
    concatenates every process's rows, ``shard.sum(x)`` adds every process's
    ``x``, and ``shard.generator`` draws the same numbers on every process).
    Any other augmentation is applied to the shard as if it were the batch.

    Parameters
    ----------
    augmentation : callable
        The augmentation.
    batch : Tensor or GraphBatch
        This process's rows of the global batch.
    shard : BatchShard
        Where these rows sit in the global batch.
    generator : torch.Generator or None
        This process's own random stream.

    Returns
    -------
    view : Tensor or GraphBatch
        The augmented view of the shard.

    Examples
    --------
    Without a process group, a shard is the whole batch:

    >>> import torch
    >>> from rince_sklearn.augment import MarginalCorruption, call_augmentation_shard
    >>> from rince_sklearn.distributed import BatchShard
    >>> x = torch.randn(6, 3)
    >>> view = call_augmentation_shard(
    ...     MarginalCorruption(0.5), x, BatchShard([6]), torch.Generator())
    >>> view.shape
    torch.Size([6, 3])
    """
    augment_shard = getattr(augmentation, "augment_shard", None)
    if augment_shard is not None:
        if isinstance(augmentation, Augmentation):
            augmentation.check_params()
        return augment_shard(batch, shard, generator=generator)
    return call_augmentation(augmentation, batch, generator)


#: the modalities whose data the built-in augmentations declare
_KNOWN_MODALITIES = ("tabular", "image", "graph")


def check_augmentation(augmentation: Any, modality: str | None = None) -> Any:
    """Check an augmentation's declared parameters, its members' too.

    Every :class:`Augmentation` in ``augmentation`` (itself, the members of
    :class:`Compose`, :class:`RandomChoice` and
    :class:`~rince_sklearn.augment.GraphRandomChoice`, their members, and any
    parameter that is an augmentation) passes :meth:`Augmentation.check_params`:
    each declared parameter's type and range, including the size caps that
    bound the work of one call. Other callables (plain functions, user
    objects) are not looked into, and a subclass that declares nothing passes.

    Parameters
    ----------
    augmentation : callable or None
        The augmentation (None passes).
    modality : {"tabular", "image", "graph"} or None, default=None
        The data it will augment: an augmentation declared for another of these
        modalities (its ``modality`` attribute) is refused. None, or the name
        of another (user-defined) modality, checks no modality.

    Returns
    -------
    augmentation : callable or None
        The augmentation passed in, unchanged.

    Raises
    ------
    TypeError
        ``augmentation`` is not callable, or a parameter has a type that is
        not allowed.
    ValueError
        A parameter is out of its range, an augmentation is for another
        modality, or augmentations are nested more than 16 deep. The message
        names the class, the parameter, the value and what is allowed.

    Examples
    --------
    >>> from rince_sklearn.augment import (Compose, GaussianBlur, GaussianNoise,
    ...     NodeDropping, check_augmentation)
    >>> check_augmentation(Compose([GaussianNoise(0.1)]), "tabular")
    Compose(augmentations=[GaussianNoise(std=0.1)])
    >>> check_augmentation(Compose([GaussianBlur(kernel_size=200000001)]))
    Traceback (most recent call last):
    ...
    ValueError: GaussianBlur's parameter kernel_size=200000001 is not allowed: \
it must be an odd int in [1, 63].
    >>> check_augmentation(NodeDropping(0.2), modality="tabular")
    Traceback (most recent call last):
    ...
    ValueError: NodeDropping is an augmentation of graph data; it cannot augment \
tabular data.
    """
    if augmentation is None:
        return None
    if not callable(augmentation):
        raise TypeError(
            f"An augmentation must be callable (batch -> view), got "
            f"{short_repr(augmentation)}."
        )
    if modality is not None and modality not in _KNOWN_MODALITIES:
        modality = None  # a user-defined modality: its data are not judged here
    _check_tree(augmentation, modality, depth=0)
    return augmentation


def _check_tree(augmentation: Any, modality: str | None, depth: int) -> None:
    """Check ``augmentation`` and the augmentations among its parameters."""
    if not isinstance(augmentation, Augmentation):
        return
    if depth > MAX_DEPTH:
        raise ValueError(
            f"Augmentations are nested more than {MAX_DEPTH} deep (inside one "
            f"another, down to {type(augmentation).__name__}); flatten them."
        )
    own = type(augmentation).modality
    if modality is not None and own is not None and own != modality:
        raise ValueError(
            f"{type(augmentation).__name__} is an augmentation of {own} data; it "
            f"cannot augment {modality} data."
        )
    augmentation.check_params()
    for value in augmentation.get_params(deep=False).values():
        if isinstance(value, Augmentation):
            _check_tree(value, modality, depth + 1)
        elif isinstance(value, (list, tuple)):
            for member in value:
                _check_tree(member, modality, depth + 1)
