"""NumPy-only implementations the roadmap asks to build from scratch, each tested against its library twin
(scikit-learn or PyTorch): linear regression, CART decision trees, PCA, and a multilayer perceptron."""
