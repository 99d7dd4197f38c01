"""scikit-learn conformance of RobustContrastiveEmbedder."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from rince_sklearn import RobustContrastiveEmbedder

EXPECTED_FAILED_CHECKS: dict[str, str] = {}


@parametrize_with_checks(
    [
        # the defaults exactly as users get them (default widths, epochs, views)
        RobustContrastiveEmbedder(),
        # and a small model, to keep the widths' corner cases in view
        RobustContrastiveEmbedder(max_epochs=2, embedding_dim=4, projection_dim=4),
    ],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
