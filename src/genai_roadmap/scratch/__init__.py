"""NumPy-only implementations the roadmap asks to build from scratch, each tested against its library twin
(scikit-learn or PyTorch): linear regression, CART decision trees, PCA, and a multilayer perceptron.

Each model is a scikit-learn estimator (get_params / set_params, fit, predict or transform, score), so
`clone`, `cross_val_score`, `Pipeline` and `sklearn.utils.estimator_checks` take them:

    from genai_roadmap.scratch import LinearRegression, GDRegressor, DecisionTreeClassifier, PCA, MLPClassifier
"""

from .linreg import GDRegressor, LinearRegression
from .mlp import MLPClassifier
from .pca import PCA
from .tree import DecisionTreeClassifier

__all__ = ["DecisionTreeClassifier", "GDRegressor", "LinearRegression", "MLPClassifier", "PCA"]
