"""Tests of the lightly CSV checker itself, so that it cannot pass everything."""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lightly_csv import check_lightly_csv  # noqa: E402

GOOD = (
    "filenames,embedding_0,embedding_1,embedding_2,labels\n"
    "a.png,0.1,0.2,0.3,0\n"
    "\"dir x/b,1.png\",-1e-3,2.5E+0,0,3\n"
    "\"say \"\"hi\"\".jpg\",1,2,3,-7\n"
)


class CheckLightlyCsvTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="lightly_csv_")
        self.addCleanup(self._tmp.cleanup)
        self._n = 0

    def write(self, text):
        self._n += 1
        path = os.path.join(self._tmp.name, "f%d.csv" % self._n)
        with open(path, "w", newline="", encoding="utf-8") as f:
            f.write(text)
        return path

    def assertRejected(self, text, fragment, **kwargs):
        path = self.write(text)
        with self.assertRaises(ValueError) as cm:
            check_lightly_csv(path, **kwargs)
        self.assertIn(fragment, str(cm.exception))
        self.assertIn(path, str(cm.exception))

    def test_accepts_good_file(self):
        names, emb, labels = check_lightly_csv(self.write(GOOD))
        self.assertEqual(names, ["a.png", "dir x/b,1.png", 'say "hi".jpg'])
        self.assertEqual(emb, [[0.1, 0.2, 0.3], [-1e-3, 2.5, 0.0],
                               [1.0, 2.0, 3.0]])
        self.assertEqual(labels, [0, 3, -7])

    def test_accepts_crlf_and_header_only(self):
        names, emb, labels = check_lightly_csv(
            self.write(GOOD.replace("\n", "\r\n")))
        self.assertEqual(len(names), 3)
        self.assertEqual(check_lightly_csv(self.write(
            "filenames,embedding_0,labels\n")), ([], [], []))

    def test_accepts_selected_and_masked(self):
        names, emb, labels = check_lightly_csv(self.write(
            "filenames,embedding_0,embedding_1,selected,masked,labels\n"
            "a,1,2,1,0,5\n"))
        self.assertEqual((names, emb, labels), (["a"], [[1.0, 2.0]], [5]))

    def test_rejects_whitespace_in_header(self):
        self.assertRejected(GOOD.replace("embedding_1", " embedding_1"),
                            "whitespace")
        self.assertRejected(GOOD.replace("labels", "labels "), "whitespace")
        self.assertRejected(GOOD.replace("labels", "lab\tels"), "whitespace")

    def test_rejects_first_column_not_filenames(self):
        self.assertRejected(GOOD.replace("filenames", "filename"),
                            "first column")

    def test_rejects_missing_or_misplaced_labels(self):
        self.assertRejected(GOOD.replace("labels", "label"), "no 'labels'")
        self.assertRejected(
            "filenames,embedding_0,labels,embedding_1\na,1,0,2\n", "last")

    def test_rejects_bad_middle_columns(self):
        self.assertRejected(GOOD.replace("embedding_1", "embedding_x"),
                            "neither")
        self.assertRejected(GOOD.replace("embedding_1", "foo"), "neither")
        self.assertRejected(GOOD.replace("embedding_1", "embedding_5"),
                            "in order")
        self.assertRejected(GOOD.replace("embedding_1", "embedding_01"),
                            "neither")
        self.assertRejected(
            "filenames,embedding_0,selected,embedding_1,labels\na,1,0,2,0\n",
            "precede")
        self.assertRejected("filenames,selected,labels\na,0,0\n",
                            "no 'embedding_")
        self.assertRejected(
            "filenames,embedding_0,masked,masked,labels\na,1,0,0,0\n",
            "twice")

    def test_rejects_empty_rows(self):
        self.assertRejected(GOOD.replace("\"dir", "\n\"dir"), "empty row")
        self.assertRejected(GOOD + "\n", "empty row")

    def test_rejects_ragged_rows(self):
        self.assertRejected(GOOD.replace("a.png,0.1,", "a.png,"), "cells")
        self.assertRejected(GOOD.replace(",0\n", ",0,9\n", 1), "cells")

    def test_rejects_bad_labels(self):
        self.assertRejected(GOOD.replace("0.3,0\n", "0.3,x\n"), "integer")
        self.assertRejected(GOOD.replace("0.3,0\n", "0.3,1.5\n"), "integer")
        self.assertRejected(GOOD.replace("0.3,0\n", "0.3,\n"), "integer")
        self.assertRejected(GOOD.replace("0.3,0\n", "0.3,1_0\n"), "integer")

    def test_rejects_bad_embeddings(self):
        self.assertRejected(GOOD.replace("0.2", "abc"), "not a float")
        self.assertRejected(GOOD.replace("0.2", ""), "not a float")
        self.assertRejected(GOOD.replace("0.2", "nan"), "not finite")
        self.assertRejected(GOOD.replace("0.2", "inf"), "not finite")
        self.assertRejected(GOOD.replace("0.2", " 0.2"), "whitespace")

    def test_non_strict_mode_follows_lightly(self):
        names, emb, labels = check_lightly_csv(
            self.write(GOOD.replace("0.2", "nan").replace("0.3,0", "0.3, 4")),
            strict=False)
        self.assertNotEqual(emb[0][1], emb[0][1])  # nan
        self.assertEqual(labels[0], 4)
        self.assertRejected(GOOD.replace("0.2", "abc"), "not a float",
                            strict=False)

    def test_rejects_bad_quoting_and_empty_file(self):
        self.assertRejected(GOOD.replace('"dir x/b,1.png"', '"dir x/b,1.png'),
                            "CSV syntax")
        self.assertRejected("", "empty")
        self.assertRejected(GOOD.replace("a.png", ""), "empty filename")


if __name__ == "__main__":
    unittest.main()
