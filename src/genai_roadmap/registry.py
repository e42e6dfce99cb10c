"""The 42 projects of the roadmap (ROADMAP.md): id, slug, title, the roadmap's own words, data, metric, target,
and the published reference number with its source.

A project is "implemented" when it names a project module; the rest are shown honestly as "planned".
Modules are imported only when a project is run or inspected, so `roadmap list` stays fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import ModuleType

from .errors import UserError


@dataclass(frozen=True)
class Target:
    """The number a project must reach in its cpu preset: `metrics[metric] op value`."""

    metric: str
    op: str  # ">=", "<=" or "<"
    value: float
    text: str  # as a person reads it, e.g. "test accuracy >= 98.0%"

    def met(self, metrics: dict) -> bool | None:
        got = metrics.get(self.metric)
        if not isinstance(got, (int, float)):
            return None
        return {">=": got >= self.value, "<=": got <= self.value, "<": got < self.value}[self.op]


@dataclass(frozen=True)
class Challenge:
    """A second goal of a project, with its own target and reference, attempted by the runs whose settings
    `when` accepts (3.2.1's 90-second race: `--set budget_s=90`). Its runs are judged on its target, not the
    project's, and have their own row in the ledger."""

    name: str  # as a person reads it in the ledger, e.g. "90-s race"
    when: Callable[[dict], bool]  # the run's settings (config.json "config") -> is this run an attempt?
    target: Target
    target_text: str
    reference: str
    source: str


@dataclass(frozen=True)
class Project:
    id: str
    slug: str
    title: str
    roadmap: str  # the roadmap's own wording of the project
    datasets: tuple[str, ...]
    target: Target | None
    target_text: str  # "our target (cpu preset / full)" as in REFERENCES.md
    reference: str  # the published number
    source: str  # where the published number comes from
    module: str | None = None  # dotted module path under genai_roadmap.projects, None = planned
    tags: tuple[str, ...] = field(default_factory=tuple)
    challenges: tuple[Challenge, ...] = ()
    challenge: str = ""  # set on the project as a challenge's runs are judged (see `attempted`)

    @property
    def phase(self) -> int:
        return int(self.id.split(".")[0])

    @property
    def step(self) -> str:
        return ".".join(self.id.split(".")[:2])

    @property
    def implemented(self) -> bool:
        return self.module is not None

    def as_challenge(self, c: Challenge) -> Project:
        """The project as judged for one challenge: its title, target and reference are the challenge's."""
        return replace(self, title=f"{self.title} — {c.name}", target=c.target, target_text=c.target_text,
                       reference=c.reference, source=c.source, challenges=(), challenge=c.name)

    def attempted(self, settings: dict) -> Project:
        """What a run with these settings is judged as: the challenge it attempts, else the project itself."""
        for c in self.challenges:
            if c.when(settings):
                return self.as_challenge(c)
        return self

    def load(self) -> ModuleType:
        if self.module is None:
            raise UserError(f"project {self.id} ({self.slug}) is planned, not implemented yet")
        return importlib.import_module(f"genai_roadmap.projects.{self.module}")


PHASES = {
    1: "Foundations of AI, Machine Learning & Programming",
    2: "Deep Learning Foundations",
    3: "Natural Language Processing",
    4: "Generative Models (Core Generative AI)",
    5: "Retrieval-Augmented Generation",
    6: "Advanced Generative AI Techniques",
    7: "Large-Scale Pre-trained Models & Fine-Tuning",
    8: "Large-Scale Deployment & Optimization",
}


def _p(id, slug, title, roadmap, datasets, target, target_text, reference, source, module=None,  # noqa: A002
       challenges=()):
    return Project(id, slug, title, roadmap, tuple(datasets), target, target_text, reference, source, module,
                   challenges=tuple(challenges))


T = Target
PROJECTS: tuple[Project, ...] = (
    # Phase 1 ------------------------------------------------------------------------------------------
    _p("1.1.1", "math-numpy", "NumPy matrices, plots, calculus",
       "Implement basic Python programs to practice handling matrices, plotting data, and solving basic "
       "calculus problems.", [], T("worst_error", "<=", 1e-6, "worst error vs analytic <= 1e-6"),
       "numeric = analytic to 1e-6", "—", "—", "phase1_foundations.math_numpy"),
    _p("1.1.2", "pandas-wrangling", "Pandas merge / missing values / statistics",
       "Write Python scripts using Pandas to perform data manipulation tasks like merging datasets, handling "
       "missing values, and calculating statistics.", ["titanic"],
       T("missing_after", "<=", 0, "no missing values left in the cleaned table"),
       "any CSV, documented output", "—", "—", "phase1_foundations.pandas_wrangling"),
    _p("1.2.1", "linreg-boston", "Linear regression from scratch (Boston Housing)",
       "Build a linear regression model from scratch to predict house prices using a dataset like the Boston "
       "Housing dataset.", ["boston_housing"],
       T("r2_gap_normal_eq_and_gd_vs_sklearn", "<=", 1e-6,
         "normal equations and gradient descent: test R² = sklearn's to 1e-6"),
       "normal eq. + GD R² = sklearn to 1e-6", "OLS test R² ≈ 0.74 (mem.)",
       "common 80/20 split results (not re-checked)",
       "phase1_foundations.linreg_boston"),
    _p("1.2.2", "tree-iris", "Decision tree from scratch (Iris)",
       "Implement a decision tree classifier to predict species of flowers using the Iris dataset.", ["iris"],
       T("test_acc", ">=", 0.93, "test accuracy >= 0.93 and = sklearn ±1 sample"),
       "acc ≥ 0.93, = sklearn ±1 sample", "0.93-0.97 (mem.)", "typical stratified-split results",
       "phase1_foundations.tree_iris"),
    _p("1.3.1", "titanic-eda", "Titanic EDA + baseline classifier",
       "Perform exploratory data analysis (EDA) on the Titanic dataset—clean the data, deal with missing values, "
       "and visualize key patterns.", ["titanic"],
       T("cv_acc", ">=", 0.78, "5-fold CV accuracy >= 0.78"),
       "report + baseline acc ≥ 0.78 CV", "gender-rule submission 0.7655 public LB (remembered, unchecked)",
       "Kaggle Titanic competition (gender_submission.csv)",
       "phase1_foundations.titanic_eda"),
    _p("1.3.2", "pca-mnist", "PCA from scratch on MNIST",
       "Apply PCA (Principal Component Analysis) to a dataset (e.g., MNIST) to reduce its dimensionality and "
       "visualize the transformed data.", ["mnist"],
       T("k95_diff_vs_sklearn", "<=", 0, "components for 95% variance = sklearn's"),
       "k(95%) = sklearn's (~154)", "154 components (mem.)", "Géron, Hands-On ML, ch. 8",
       "phase1_foundations.pca_mnist"),
    # Phase 2 ------------------------------------------------------------------------------------------
    _p("2.1.1", "mlp-numpy-mnist", "NumPy MLP from scratch (MNIST)",
       "Implement a simple feedforward neural network from scratch using NumPy, applying it to predict "
       "handwritten digits from the MNIST dataset.", ["mnist"],
       T("test_acc", ">=", 0.98, "test accuracy >= 98.0%"),
       "≥ 98.0% test", "1.6% error, 800 HU + cross-entropy", "Simard et al. 2003 (LeCun MNIST table)",
       "phase2_deep_learning.mlp_numpy_mnist"),
    _p("2.1.2", "mlp-fashion", "PyTorch MLP (Fashion-MNIST)",
       "Use PyTorch or TensorFlow to build a fully connected neural network that classifies images in the "
       "Fashion MNIST dataset.", ["fashion_mnist"],
       T("test_acc", ">=", 0.89, "test accuracy >= 89%"),
       "≥ 89%", "88.33% (MLP 256-128-100 row)", "zalandoresearch/fashion-mnist README, benchmark table",
       "phase2_deep_learning.mlp_fashion"),
    _p("2.2.1", "cifar10-classifier", "PyTorch CIFAR-10 classifier",
       "Create and train a neural network in PyTorch to classify the CIFAR-10 dataset, which consists of 10 "
       "classes of images.", ["cifar10"],
       T("test_acc", ">=", 0.80, "test accuracy >= 80% (cpu) / 94% (GPU)"),
       "≥ 80% cpu / ≥ 94% GPU", "94.01% in 2.59 s on an A100", "airbench README (Jordan 2024)",
       "phase2_deep_learning.cifar10_classifier"),
    _p("2.2.2", "tf-digits", "TensorFlow digit classifier + TF Serving",
       "Build and deploy a basic TensorFlow model for classifying handwritten digits, and deploy it using "
       "TensorFlow Serving.", ["mnist"],
       T("test_acc", ">=", 0.99, "test accuracy >= 99%, served over TF Serving's REST API"),
       "≥ 99%; TF-Serving REST API", "LeNet-5 0.8% error", "LeCun et al. 1998",
       "phase2_deep_learning.tf_digits"),
    _p("2.3.1", "cnn-cifar-ablation", "CNN on CIFAR-10: depth × augmentation",
       "Build a CNN model for image classification on the CIFAR-10 dataset. Experiment with adding more layers "
       "and using techniques like data augmentation.", ["cifar10"],
       T("test_acc", ">=", 0.85, "chosen configuration >= 85% test (cpu)"),
       "ablation table, best ≥ 85% cpu", "ResNet-20 91.25%", "He et al. 2016, Table 6",
       "phase2_deep_learning.cnn_cifar_ablation"),
    _p("2.3.2", "transfer-learning", "Transfer learning with a pretrained CNN",
       "Use Transfer Learning with a pre-trained CNN (e.g., VGG16) to classify a custom image dataset (e.g., "
       "dogs vs cats).", ["cifar10"],
       T("transfer_gain", ">=", 0.10, "transfer beats scratch by >= 10 points"),
       "beats scratch by ≥ 10 pts on small set", "VGG16 dogs/cats ≈ 90-97% (mem.)", "Keras transfer-learning guides",
       "phase2_deep_learning.transfer_learning"),
    # Phase 3 ------------------------------------------------------------------------------------------
    _p("3.1.1", "text-preprocessing", "Tokenize / stem / lemmatize / TF-IDF (news)",
       "Perform text preprocessing on a set of news articles—tokenization, stemming, and converting the text "
       "into TF-IDF or word embeddings.", ["bbc_news"], T("test_acc", ">=", 0.96, "BBC 5-class >= 96%"),
       "BBC 5-class ≥ 96%", "AG News TF-IDF 89.6% (mem.)", "Zhang et al. 2015",
       "phase3_nlp.text_preprocessing"),
    _p("3.1.2", "word2vec", "Word2Vec + visualisation",
       "Train a Word2Vec model on a corpus of text and visualize word vectors to see how semantically similar "
       "words cluster together.", ["wikipedia_passages", "imdb", "gutenberg_books"],
       T("analogy_gap_vs_gensim", "<=", 0.03, "Google-analogy accuracy within 3 points of gensim (same corpus)"),
       "analogy acc within 3 pts of gensim, ≥ 0.5x its words/s", "skip-gram 53.3% analogies (783M words)",
       "Mikolov et al. 2013, Table 4", "phase3_nlp.word2vec"),
    _p("3.2.1", "lstm-textgen", "LSTM text generator (books)",
       "Implement an LSTM-based text generator using a large dataset (e.g., a collection of books) to generate "
       "coherent text sequences.", ["tiny_shakespeare", "gutenberg_books"],
       T("val_loss", "<=", 1.6, "char val loss <= 1.6"),
       "char val loss ≤ 1.6", "nanoGPT CPU config 1.88; 1.47 GPU", "nanoGPT README",
       "phase3_nlp.lstm_textgen",
       [Challenge("90-s race", lambda s: 0 < float(s.get("budget_s") or 0) <= 90,
                  T("val_loss_ctx64", "<", 1.886, "val loss (64-char windows) < 1.886 within 90 s"),
                  "beat nanoGPT's CPU config at its own budget: val < 1.886 in ≤ 90 s",
                  "nanoGPT CPU config: val 1.886 in ~90 s on these 2 cores",
                  "nanoGPT README (shakespeare_char on CPU), timed on this machine class")]),
    _p("3.2.2", "lstm-sentiment", "LSTM sentiment (IMDB)",
       "Build an LSTM model for sentiment analysis on movie reviews (IMDB dataset)—classify reviews as positive "
       "or negative.", ["imdb"], T("test_acc", ">=", 0.86, "test accuracy >= 86% (cpu)"),
       "≥ 86% cpu / ≥ 88%", "Keras BiLSTM 81-85%; Maas 88.9% (mem.)", "keras-io; Maas et al. 2011",
       "phase3_nlp.lstm_sentiment"),
    _p("3.3.1", "bert-spam", "BERT fine-tune (spam)",
       "Fine-tune BERT for a text classification task, such as detecting spam emails or sentiment analysis.",
       ["sms_spam"], T("spam_f1", ">=", 0.95, "spam F1 >= 0.95"),
       "spam F1 ≥ 0.95", "SVM 97.6% acc; BERT IMDb 93.5 (mem.)", "Almeida et al. 2011; Sanh et al. 2019",
       "phase3_nlp.bert_classifier"),
    _p("3.3.2", "transformer-en-fr", "Transformer seq2seq English→French",
       "Implement a sequence-to-sequence model with transformers to perform machine translation between two "
       "languages (e.g., English to French).", ["fra_eng"], T("sacrebleu", ">=", 25, "sacreBLEU >= 25 (cpu)"),
       "sacreBLEU ≥ 25 cpu", "WMT14 base 38.1; opus-mt Tatoeba 50.5",
       "Vaswani et al. 2017; opus-mt-en-fr model card", "phase3_nlp.translator"),
    # Phase 4 ------------------------------------------------------------------------------------------
    _p("4.1.1", "autoencoder-mnist", "Autoencoder + latent space",
       "Train an autoencoder to reduce the dimensionality of the MNIST dataset and visualize the latent space.",
       ["mnist"], T("worst_ae_to_pca_ratio_10_30", "<=", 0.6, "test AE error <= 0.6x PCA's at 10 and 30 dims"),
       "recon < PCA at same dim", "3.00 vs PCA 13.87 (mem.)", "Hinton & Salakhutdinov 2006",
       "phase4_generative.autoencoder"),
    _p("4.1.2", "denoising-ae", "Denoising autoencoder",
       "Build a denoising autoencoder that can remove noise from images (using a noisy version of the MNIST "
       "dataset).", ["mnist"], T("psnr_gain_sigma0.5", ">=", 6, "test PSNR gain >= +6 dB at Gaussian sigma 0.5"),
       "PSNR gain table", "—", "—", "phase4_generative.denoising_ae"),
    _p("4.2.1", "gan-mnist", "GAN on MNIST + evolution GIF",
       "Implement a basic GAN to generate images from the MNIST dataset. Visualize the evolution of generated "
       "digits during training.", ["mnist"],
       T("coverage_and_confidence_ok", ">=", 1, "every digit 7-13% of 10k samples and LeNet confident on >= 80%"),
       "MNIST-FID, mode coverage", "Parzen log-lik 225", "Goodfellow et al. 2014", "phase4_generative.gan_mnist"),
    _p("4.2.2", "dcgan-cifar10", "DCGAN on CIFAR-10",
       "Create a DCGAN to generate images from the CIFAR-10 dataset, improving the quality of generated images "
       "by tweaking hyperparameters.", ["cifar10"], None, "FID-style, IS", "DCGAN IS 6.16 (unsupervised CIFAR-10)",
       "Gulrajani et al. 2017 (WGAN-GP), Table 3 (Inception Score only)", "phase4_generative.dcgan"),
    _p("4.3.1", "vae-mnist", "VAE on MNIST + interpolation",
       "Build a VAE for generating handwritten digits from the MNIST dataset. Explore the latent space by "
       "interpolating between different points.", ["mnist"], T("test_neg_elbo", "<=", 100, "test -ELBO <= 100 nats"),
       "test ELBO ≤ 100 nats", "VAE NLL 86.76 (mem.)", "Burda et al. 2016 (IWAE)", "phase4_generative.vae"),
    _p("4.3.2", "cvae-mnist", "Conditional VAE (digits)",
       "Implement a Conditional VAE to generate images conditioned on certain attributes (e.g., specific digits "
       "in the MNIST dataset).", ["mnist"], T("generated_class_acc", ">=", 0.95, "generated-class acc >= 95%"),
       "generated-class acc ≥ 95%", "—", "—", "phase4_generative.cvae"),
    # Phase 5 ------------------------------------------------------------------------------------------
    _p("5.1.1", "rag-qa", "RAG Q&A: dense retrieval + generator",
       "Build a Q&A system using a dense retrieval model (e.g., DPR) to retrieve documents from Wikipedia and "
       "generate accurate answers using GPT.", ["squad_v1.1_dev", "wikipedia_passages"],
       Target("hybrid_gain_top20", ">=", 0.02, "hybrid top-20 answer recall >= best single retriever + 2 points"),
       "hybrid top-20 >= BM25 and dense + 2 pts; EM/F1", "DPR 78.4 vs BM25 59.1 top-20 (NQ)",
       "Karpukhin et al. 2020, Table 2", "phase5_rag.rag_qa"),
    _p("5.1.2", "grounded-chatbot", "Knowledge-grounded chatbot",
       "Create a knowledge-grounded chatbot that uses retrieval techniques to fetch relevant information from a "
       "knowledge base and provides factually accurate responses.", ["squad_v1.1_dev", "wikipedia_passages"],
       T("test_min_rate", ">=", 0.8, "abstain on removed and answer on present articles, both >= 80%"),
       "abstain / answer rates ≥ 80%, grounded-answer rate, citations", "—", "—",
       module="phase5_rag.grounded_chatbot"),
    _p("5.2.1", "support-rag", "Customer-support RAG chatbot (T5-class)",
       "Develop an enhanced RAG-based chatbot for customer support by combining a retriever with a pre-trained "
       "generative model like T5.", ["customer_support"],
       T("test_intent_acc", ">=", 0.92, "Banking77 intent test acc >= 92%"),
       "FAQ recall@5, answer F1; Banking77 intent acc ≥ 92%", "Banking77 ~93-94% (USE/ConveRT features)",
       "Casanueva et al. 2020", module="phase5_rag.support_rag"),
    _p("5.2.2", "open-domain-qa", "Open-domain QA over Wikipedia",
       "Implement an open-domain question-answering system where the retriever fetches relevant passages from a "
       "large corpus (e.g., Wikipedia) and the generator provides detailed answers.",
       ["squad_v1.1_dev", "wikipedia_passages"], None, "EM/F1 on SQuAD-open", "RAG-Seq NQ EM 44.5",
       "Lewis et al. 2020, Table 1", module="phase5_rag.open_domain_qa"),
    # Phase 6 ------------------------------------------------------------------------------------------
    _p("6.1.1", "stylegan-faces", "StyleGAN faces + latent control",
       "Build a StyleGAN model for generating high-resolution faces. Experiment with controlling latent space to "
       "generate specific attributes (e.g., facial expressions).", ["celeba_subset"], None,
       "FID-style, attribute edits", "StyleGAN2 FFHQ FID 2.84", "StyleGAN2 README"),
    _p("6.1.2", "cyclegan-h2z", "CycleGAN unpaired translation",
       "Implement CycleGAN to perform image-to-image translation (e.g., turning photos of horses into zebras).",
       ["horse2zebra"], None, "FID-style both ways", "—",
       "none checked: Zhu et al. 2017 report no FID (AMT studies, FCN scores on Cityscapes)"),
    _p("6.2.1", "ddpm-faces", "Diffusion (DDPM) on faces",
       "Train a diffusion model to generate high-quality images on the CelebA dataset.", ["celeba_subset"], None,
       "FID-style", "DDPM CIFAR-10 FID 3.17", "Ho et al. 2020, Table 1"),
    _p("6.2.2", "video-diffusion", "Video diffusion (Moving MNIST)",
       "Use diffusion models for video generation, exploring how they can be applied to dynamic, sequential data",
       ["mnist"], None, "sample clips, FVD-style", "VDM UCF-101 IS 57", "Ho et al. 2022 (VDM)"),
    _p("6.3.1", "cgan-cifar10", "Conditional GAN (CIFAR-10)",
       "Implement a Conditional GAN (cGAN) to generate images conditioned on specific labels (e.g., generating "
       "specific classes of objects in the CIFAR-10 dataset).", ["cifar10"], None,
       "class acc of samples, FID-style", "AC-GAN IS 8.25", "WGAN-GP paper, Table 3"),
    _p("6.3.2", "cvae-faces", "Conditional VAE (face attributes)",
       "Train a Conditional VAE to generate different styles of images based on attributes (e.g., hair color or "
       "emotion for face images).", ["celeba_subset"], None, "attribute-classifier acc", "—", "—"),
    # Phase 7 ------------------------------------------------------------------------------------------
    _p("7.1.1", "gpt-finetune", "Fine-tune GPT (product descriptions)",
       "Fine-tune GPT-3 on a dataset to generate product descriptions or personalized email responses.",
       ["product_descriptions"], None, "val ppl drop, samples",
       "GPT-2 124M fine-tuned on OpenWebText: loss ~2.85 (web text, not product descriptions)",
       "nanoGPT README, 'baselines' section"),
    _p("7.1.2", "t5-summarization", "T5 summarisation (news)",
       "Use T5 for abstractive text summarization, fine-tuning it on a news article dataset to produce concise "
       "summaries.", ["bbc_news_summary"], None, "ROUGE-Lsum", "T5-small CNN/DM 41.1/19.6/38.4",
       "Raffel et al. 2020"),
    _p("7.2.1", "bert-ner", "BERT NER (CoNLL-2003)",
       "Fine-tune BERT for named entity recognition (NER) on a custom dataset (e.g., extracting important names "
       "and places from legal documents).", ["conll2003"], T("test_f1", ">=", 0.88, "CoNLL-03 test F1 >= 0.88"),
       "CoNLL-03 test F1 ≥ 0.88 cpu", "BERT-base 92.4", "Devlin et al. 2019"),
    _p("7.2.2", "t5-data-to-text", "T5 data-to-text (WebNLG / E2E)",
       "Train a T5 model for data-to-text generation, generating natural language descriptions of structured "
       "data (e.g., sports statistics).", ["webnlg", "e2e_nlg"], None, "BLEU on WebNLG/E2E",
       "WebNLG T5 ≈ 57-59 (mem.)", "Kale & Rastogi 2020"),
    # Phase 8 ------------------------------------------------------------------------------------------
    _p("8.1.1", "prune-quantize", "Pruning + quantisation (VAE / GPT)",
       "Apply model pruning and quantization to a generative model (e.g., a VAE or GPT-based model) to reduce "
       "its size and latency for deployment.", ["mnist"], None, "≥ 2x CPU speed, ≤ 1% metric loss",
       "BERT int8 1.8x, F1 ±0", "PyTorch dynamic-quantisation tutorial"),
    _p("8.1.2", "distillation", "Knowledge distillation",
       "Use knowledge distillation to compress a large model into a smaller, faster one for real-time "
       "applications.", ["mnist"], None, "student ≥ 97% of teacher", "DistilBERT 97%; Hinton 74 vs 146 errors",
       "Sanh et al. 2019; Hinton et al. 2015"),
    _p("8.2.1", "gpt-chatbot-web", "GPT chatbot behind a web app",
       "Deploy a GPT-based chatbot using Hugging Face API and integrate it with a web application (e.g., a "
       "customer support system).", ["customer_support"], None, "browser-tested chat, streaming", "—", "—"),
    _p("8.2.2", "gan-service", "GAN as a FastAPI image service",
       "Deploy a GAN model using FastAPI and serve image generation as a cloud service where users can upload "
       "prompts and get generated images.", ["mnist"], None, "p50/p99 under load, batching", "—", "—"),
)

_BY_KEY = {p.id: p for p in PROJECTS} | {p.slug: p for p in PROJECTS}


def get(key: str) -> Project:
    """Look a project up by id (`4.3.1`) or slug (`vae-mnist`)."""
    try:
        return _BY_KEY[key.strip()]
    except KeyError:
        raise UserError(f"unknown project {key!r}; `roadmap list` shows the 42 ids and slugs") from None
