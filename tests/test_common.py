"""scikit-learn's estimator contract, run over every public estimator."""

import pytest
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

from propmap import feature_selection, sample_selection
from propmap.clustering import PAMM, QuickShift
from propmap.decomposition import (
    KernelPCovC,
    KernelPCovR,
    KernelPCovRCV,
    PCovC,
    PCovR,
    PCovRCV,
    SketchMap,
    SparseKernelPCovR,
)
from propmap.linear_model import OrthogonalRegression, Ridge2FoldCV
from propmap.neighbors import SparseKDE
from propmap.preprocessing import (
    KernelNormalizer,
    SparseKernelCenterer,
    StandardFlexibleScaler,
)

ESTIMATORS = [
    PCovR(),
    PCovR(space="sample"),
    PCovR(regressor="precomputed"),
    PCovR(regressor=Ridge(alpha=1.0, fit_intercept=False), uncertainty=True),
    PCovRCV(cv=3, random_state=0),
    PCovRCV(cv=3, center=True, random_state=0),
    KernelPCovRCV(cv=3, random_state=0),
    KernelPCovRCV(cv=3, n_active=5, gammas=[0.5], random_state=0),
    KernelPCovR(),
    KernelPCovR(kernel="rbf", center=True, n_components=2, fit_inverse_transform=True),
    SparseKernelPCovR(n_active=10, kernel="rbf", n_components=2),
    SparseKernelPCovR(n_active=10, active="random", center=True),
    KernelPCovR(kernel="rbf", regressor=KernelRidge(kernel="rbf"), uncertainty=True),
    SparseKernelPCovR(n_active=10, kernel="rbf", n_components=2, uncertainty=True),
    PCovC(),
    PCovC(space="sample", scale_z=True),
    KernelPCovC(),
    KernelPCovC(kernel="rbf", center=True, scale_z=True),
    StandardFlexibleScaler(),
    StandardFlexibleScaler(column_wise=True),
    KernelNormalizer(),
    OrthogonalRegression(),
    QuickShift(dist_cutoff_sq=1.0),
    QuickShift(gabriel_shell=1),
    SketchMap(max_iter=20, mds_opt_steps=5, global_opt_steps=0),
    SketchMap(max_iter=20, mds_opt_steps=5, global_opt_steps=0, n_landmarks=5),
    SparseKDE(),
    SparseKDE(fpoints=0.5, fspread=0.3),
    PAMM(),
    PAMM(n_grid=15, gabriel_shell=None, quick_shift_scale=3.0),
    Ridge2FoldCV(),
    Ridge2FoldCV(
        alpha_type="relative", alphas=(1e-3, 0.1), regularization_method="cutoff"
    ),
    *(
        getattr(module, name)(n_to_select=2)
        for module in (feature_selection, sample_selection)
        for name in module.__all__
        if name not in ("voronoi_weights", "DirectionalConvexHull")
    ),
    sample_selection.VoronoiFPS(n_to_select=2, full_fraction=0.5),
    sample_selection.DirectionalConvexHull(),
]


def expected_failures(estimator):
    if isinstance(estimator, QuickShift):
        reason = (
            "labels_ are the indices of the cluster centres, as scikit-matter's; the "
            "check wants labels 0 ... k-1"
        )
        return {"check_clustering": reason}
    if isinstance(estimator, SketchMap):
        reason = (
            "a weight of 2 is not a repeated row: the repeat adds a zero-distance "
            "pair to the stress and to the distance histogram that sets σ, and "
            "classical MDS (the start) has no weights"
        )
        return {"check_sample_weight_equivalence_on_dense_data": reason}
    if isinstance(estimator, PAMM) and estimator.n_grid is None:
        reason = (
            "the check's 50 points give a grid of 7, too coarse for its three blobs "
            "(n_grid=15, also checked, finds them)"
        )
        return {"check_clustering": reason}
    if isinstance(estimator, sample_selection.DirectionalConvexHull):
        reason = (
            "score_samples(X, y) needs y, the axis the hull is built along; the "
            "check calls score_samples(X)"
        )
        return {
            "check_methods_sample_order_invariance": reason,
            "check_methods_subset_invariance": reason,
        }
    if isinstance(estimator, KernelPCovRCV) and estimator.n_active is None:
        reason = (
            "a pickle keeps the training rows in float32 (half the size): kernel "
            "values of new rows move by 1e-7 relative, predictions by ~1e-4 of "
            "their spread (test_kernel_pcovr_cv checks that bound)"
        )
        return {"check_estimators_pickle": reason}
    return {}


# The checks feed random, uncentred data: the centring and scaling warnings are
# expected there.
@pytest.mark.filterwarnings("ignore::propmap.exceptions.UncenteredDataWarning")
@pytest.mark.filterwarnings("ignore::propmap.exceptions.UnscaledDataWarning")
@pytest.mark.filterwarnings("ignore::propmap.exceptions.LocalizationWarning")
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failures)
def test_estimator_contract(estimator, check):
    check(estimator)


# kernel="precomputed" is tested in tests/decomposition/test_kernel_pcovr.py: the
# checks feed it matrices that are not kernels (indefinite, negative), and its score
# cannot be computed from a kernel between new and training points alone.


def test_sparse_kernel_centerer_is_outside_the_contract():
    """SparseKernelCenterer.fit takes two kernels (Knm, Kmm), so the fit(X, y)
    contract cannot apply; its behaviour is tested in test_preprocessing.py."""
    import inspect

    assert list(inspect.signature(SparseKernelCenterer.fit).parameters)[1:3] == [
        "Knm",
        "Kmm",
    ]
