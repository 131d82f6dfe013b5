"""RFC 6962 / RFC 9162 test vectors of github.com/transparency-dev/merkle, re-typed as data.

Sources (read at the repository's newest stored snapshot, commit 417fb0c):

* ``testonly/constants.go``: the eight leaf inputs, the hashes of every complete subtree of
  the 8-leaf tree (``NodeHashes``) and the root hashes for sizes 0..8 (``RootHashes``).
* ``cmd/proofgen/main.go``: the inclusion and consistency proof vectors (``inclusionProofs``,
  ``consistencyProofs``; leaf numbers there are 1-based, re-typed here 0-based) from which it
  generates the JSON probes in ``testdata/``.
* ``testdata/inclusion/**.json`` and ``testdata/consistency/**.json``: every probe, happy paths
  and invalid cases, with the Go field names mapped as leafIdx -> index, treeSize -> size,
  root, leafHash, proof, size1 -> old, size2 -> new, root1 -> old root, root2 -> new root,
  wantErr -> want_err. The JSON carries base64; it is re-typed here as hex, and hashes that
  are a named node of the 8-leaf tree are written by that name. A Go ``uint64`` that wrapped
  below zero (``leafIdx - 1`` with leafIdx 0) is written ``U64_MAX``.
"""

from __future__ import annotations

from typing import NamedTuple

import pytest

from jembatan.ledger.merkle import (
    EMPTY_ROOT,
    ProofError,
    Subtree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_inclusion,
    root_of,
    subtree_from,
    verify_consistency,
    verify_inclusion,
)

# --- testonly/constants.go ---------------------------------------------------------------

LEAF_INPUTS = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]

# NodeHashes(): LEAF[i] = level 0, N1/N2/N3 = levels 1, 2, 3 (index within the level).
LEAF = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
]
N1 = [
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
]
N2 = [
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
]
N3 = ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"]
NODE_HASHES = [LEAF, N1, N2, N3]

# EmptyRootHash() and RootHashes(), indexed by tree size 0..8.
EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
ROOT = [
    EMPTY,
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

# --- cmd/proofgen/main.go ----------------------------------------------------------------

# (index, size, proof): inclusionProofs, leaf numbers made 0-based.
INCLUSION_VECTORS = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

# (old size, new size, proof): consistencyProofs.
CONSISTENCY_VECTORS = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

# Other values the probes use (sha256SomeHash and the literal byte strings of proofgen).
SOME_HASH = "abacaba000000000000000000000000000000000000000000060061e00123456"
# The leaf hash of b"data", root and leaf of the testdata/inclusion/single-entry probes.
DATA_HASH = "0d3aed023148ffd2a259fbd0cdc7fb3cf975658760d3775b82af6f90aacc2dfc"
WRONG_LEAF = b"WrongLeaf".hex()
WRONG_ROOT = b"WrongRoot".hex()
DONT_CARE_1 = b"don't care 1".hex()
DONT_CARE_2 = b"don't care 2".hex()
U64_MAX = 2**64 - 1

# --- testdata/inclusion and testdata/consistency -----------------------------------------


class InclusionProbe(NamedTuple):
    file: str  # under testdata/inclusion/
    leaf_index: int  # leafIdx
    size: int  # treeSize
    root: str
    leaf_hash: str  # leafHash
    proof: list[str]
    want_err: bool  # wantErr

    @property
    def path(self) -> str:
        return f"inclusion/{self.file}"


class ConsistencyProbe(NamedTuple):
    file: str  # under testdata/consistency/
    old: int  # size1
    new: int  # size2
    old_root: str  # root1
    new_root: str  # root2
    proof: list[str]
    want_err: bool  # wantErr

    @property
    def path(self) -> str:
        return f"consistency/{self.file}"


# Every file of testdata/inclusion/ (paths below are relative to that folder).
Inc = InclusionProbe
INCLUSION_PROBES = [
    Inc("0/empty-root.json", 0, 1, EMPTY, LEAF[0], [], True),
    Inc("0/happy-path.json", 0, 1, ROOT[1], LEAF[0], [], False),
    Inc("0/leafIdx-XOR-@2.json", 2, 1, ROOT[1], LEAF[0], [], True),
    Inc("0/leafIdx-plus-@1.json", 1, 1, ROOT[1], LEAF[0], [], True),
    Inc("0/leafIdx-sub-@1.json", U64_MAX, 1, ROOT[1], LEAF[0], [], True),
    Inc("0/preceding-garbage.json", 0, 1, ROOT[1], LEAF[0], [""], True),
    Inc("0/preceding-root.json", 0, 1, ROOT[1], LEAF[0], [ROOT[1]], True),
    Inc("0/random-root.json", 0, 1, SOME_HASH, LEAF[0], [], True),
    Inc("0/trailing-garbage.json", 0, 1, ROOT[1], LEAF[0], [""], True),
    Inc("0/trailing-root.json", 0, 1, ROOT[1], LEAF[0], [ROOT[1]], True),
    Inc("0/treeSize-div-@2.json", 0, 0, ROOT[1], LEAF[0], [], True),
    Inc("0/treeSize-mul-@2.json", 0, 2, ROOT[1], LEAF[0], [], True),
    Inc("0/wrong-leaf.json", 0, 1, ROOT[1], WRONG_LEAF, [], True),
    Inc("1/empty-root.json", 0, 8, EMPTY, LEAF[0], [LEAF[1], N1[1], N2[1]], True),
    Inc("1/happy-path.json", 0, 8, ROOT[8], LEAF[0], [LEAF[1], N1[1], N2[1]], False),
    Inc(
        "1/inserted-component.json",
        0,
        8,
        ROOT[8],
        LEAF[0],
        [LEAF[1], SOME_HASH, N1[1], N2[1]],
        True,
    ),
    Inc("1/leafIdx-XOR-@2.json", 2, 8, ROOT[8], LEAF[0], [LEAF[1], N1[1], N2[1]], True),
    Inc("1/leafIdx-plus-@1.json", 1, 8, ROOT[8], LEAF[0], [LEAF[1], N1[1], N2[1]], True),
    Inc("1/leafIdx-sub-@1.json", U64_MAX, 8, ROOT[8], LEAF[0], [LEAF[1], N1[1], N2[1]], True),
    Inc(
        "1/modified-proof[0]-bit-@3.json",
        0,
        8,
        ROOT[8],
        LEAF[0],
        ["9ea296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", N1[1], N2[1]],
        True,
    ),
    Inc(
        "1/modified-proof[1]-bit-@3.json",
        0,
        8,
        ROOT[8],
        LEAF[0],
        [LEAF[1], "57083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", N2[1]],
        True,
    ),
    Inc(
        "1/modified-proof[2]-bit-@3.json",
        0,
        8,
        ROOT[8],
        LEAF[0],
        [LEAF[1], N1[1], "6347aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
        True,
    ),
    Inc("1/preceding-garbage.json", 0, 8, ROOT[8], LEAF[0], ["", LEAF[1], N1[1], N2[1]], True),
    Inc("1/preceding-root.json", 0, 8, ROOT[8], LEAF[0], [ROOT[8], LEAF[1], N1[1], N2[1]], True),
    Inc("1/random-root.json", 0, 8, SOME_HASH, LEAF[0], [LEAF[1], N1[1], N2[1]], True),
    Inc("1/removed-component.json", 0, 8, ROOT[8], LEAF[0], [LEAF[1], N1[1]], True),
    Inc("1/trailing-garbage.json", 0, 8, ROOT[8], LEAF[0], [LEAF[1], N1[1], N2[1], ""], True),
    Inc("1/trailing-root.json", 0, 8, ROOT[8], LEAF[0], [LEAF[1], N1[1], N2[1], ROOT[8]], True),
    Inc("1/treeSize-div-@2.json", 0, 4, ROOT[8], LEAF[0], [LEAF[1], N1[1], N2[1]], True),
    Inc("1/treeSize-mul-@2.json", 0, 16, ROOT[8], LEAF[0], [LEAF[1], N1[1], N2[1]], True),
    Inc("1/wrong-leaf.json", 0, 8, ROOT[8], WRONG_LEAF, [LEAF[1], N1[1], N2[1]], True),
    Inc("2/empty-root.json", 5, 8, EMPTY, LEAF[5], [LEAF[4], N1[3], N2[0]], True),
    Inc("2/happy-path.json", 5, 8, ROOT[8], LEAF[5], [LEAF[4], N1[3], N2[0]], False),
    Inc(
        "2/inserted-component.json",
        5,
        8,
        ROOT[8],
        LEAF[5],
        [LEAF[4], SOME_HASH, N1[3], N2[0]],
        True,
    ),
    Inc("2/leafIdx-XOR-@2.json", 7, 8, ROOT[8], LEAF[5], [LEAF[4], N1[3], N2[0]], True),
    Inc("2/leafIdx-plus-@1.json", 6, 8, ROOT[8], LEAF[5], [LEAF[4], N1[3], N2[0]], True),
    Inc("2/leafIdx-sub-@1.json", 4, 8, ROOT[8], LEAF[5], [LEAF[4], N1[3], N2[0]], True),
    Inc(
        "2/modified-proof[0]-bit-@3.json",
        5,
        8,
        ROOT[8],
        LEAF[5],
        ["b41a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b", N1[3], N2[0]],
        True,
    ),
    Inc(
        "2/modified-proof[1]-bit-@3.json",
        5,
        8,
        ROOT[8],
        LEAF[5],
        [LEAF[4], "c2854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", N2[0]],
        True,
    ),
    Inc(
        "2/modified-proof[2]-bit-@3.json",
        5,
        8,
        ROOT[8],
        LEAF[5],
        [LEAF[4], N1[3], "db7ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
        True,
    ),
    Inc("2/preceding-garbage.json", 5, 8, ROOT[8], LEAF[5], ["", LEAF[4], N1[3], N2[0]], True),
    Inc("2/preceding-root.json", 5, 8, ROOT[8], LEAF[5], [ROOT[8], LEAF[4], N1[3], N2[0]], True),
    Inc("2/random-root.json", 5, 8, SOME_HASH, LEAF[5], [LEAF[4], N1[3], N2[0]], True),
    Inc("2/removed-component.json", 5, 8, ROOT[8], LEAF[5], [LEAF[4], N1[3]], True),
    Inc("2/trailing-garbage.json", 5, 8, ROOT[8], LEAF[5], [LEAF[4], N1[3], N2[0], ""], True),
    Inc("2/trailing-root.json", 5, 8, ROOT[8], LEAF[5], [LEAF[4], N1[3], N2[0], ROOT[8]], True),
    Inc("2/treeSize-div-@2.json", 5, 4, ROOT[8], LEAF[5], [LEAF[4], N1[3], N2[0]], True),
    Inc("2/treeSize-mul-@2.json", 5, 16, ROOT[8], LEAF[5], [LEAF[4], N1[3], N2[0]], True),
    Inc("2/wrong-leaf.json", 5, 8, ROOT[8], WRONG_LEAF, [LEAF[4], N1[3], N2[0]], True),
    Inc("3/empty-root.json", 2, 3, EMPTY, LEAF[2], [N1[0]], True),
    Inc("3/happy-path.json", 2, 3, ROOT[3], LEAF[2], [N1[0]], False),
    Inc("3/leafIdx-XOR-@2.json", 0, 3, ROOT[3], LEAF[2], [N1[0]], True),
    Inc("3/leafIdx-plus-@1.json", 3, 3, ROOT[3], LEAF[2], [N1[0]], True),
    Inc("3/leafIdx-sub-@1.json", 1, 3, ROOT[3], LEAF[2], [N1[0]], True),
    Inc(
        "3/modified-proof[0]-bit-@3.json",
        2,
        3,
        ROOT[3],
        LEAF[2],
        ["f2c54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        True,
    ),
    Inc("3/preceding-garbage.json", 2, 3, ROOT[3], LEAF[2], ["", N1[0]], True),
    Inc("3/preceding-root.json", 2, 3, ROOT[3], LEAF[2], [ROOT[3], N1[0]], True),
    Inc("3/random-root.json", 2, 3, SOME_HASH, LEAF[2], [N1[0]], True),
    Inc("3/removed-component.json", 2, 3, ROOT[3], LEAF[2], [], True),
    Inc("3/trailing-garbage.json", 2, 3, ROOT[3], LEAF[2], [N1[0], ""], True),
    Inc("3/trailing-root.json", 2, 3, ROOT[3], LEAF[2], [N1[0], ROOT[3]], True),
    Inc("3/treeSize-div-@2.json", 2, 1, ROOT[3], LEAF[2], [N1[0]], True),
    Inc("3/treeSize-mul-@2.json", 2, 6, ROOT[3], LEAF[2], [N1[0]], True),
    Inc("3/wrong-leaf.json", 2, 3, ROOT[3], WRONG_LEAF, [N1[0]], True),
    Inc("4/empty-root.json", 1, 5, EMPTY, LEAF[1], [LEAF[0], N1[1], LEAF[4]], True),
    Inc("4/happy-path.json", 1, 5, ROOT[5], LEAF[1], [LEAF[0], N1[1], LEAF[4]], False),
    Inc(
        "4/inserted-component.json",
        1,
        5,
        ROOT[5],
        LEAF[1],
        [LEAF[0], SOME_HASH, N1[1], LEAF[4]],
        True,
    ),
    Inc("4/leafIdx-XOR-@2.json", 3, 5, ROOT[5], LEAF[1], [LEAF[0], N1[1], LEAF[4]], True),
    Inc("4/leafIdx-plus-@1.json", 2, 5, ROOT[5], LEAF[1], [LEAF[0], N1[1], LEAF[4]], True),
    Inc("4/leafIdx-sub-@1.json", 0, 5, ROOT[5], LEAF[1], [LEAF[0], N1[1], LEAF[4]], True),
    Inc(
        "4/modified-proof[0]-bit-@3.json",
        1,
        5,
        ROOT[5],
        LEAF[1],
        ["66340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", N1[1], LEAF[4]],
        True,
    ),
    Inc(
        "4/modified-proof[1]-bit-@3.json",
        1,
        5,
        ROOT[5],
        LEAF[1],
        [LEAF[0], "57083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", LEAF[4]],
        True,
    ),
    Inc(
        "4/modified-proof[2]-bit-@3.json",
        1,
        5,
        ROOT[5],
        LEAF[1],
        [LEAF[0], N1[1], "b41a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
        True,
    ),
    Inc("4/preceding-garbage.json", 1, 5, ROOT[5], LEAF[1], ["", LEAF[0], N1[1], LEAF[4]], True),
    Inc("4/preceding-root.json", 1, 5, ROOT[5], LEAF[1], [ROOT[5], LEAF[0], N1[1], LEAF[4]], True),
    Inc("4/random-root.json", 1, 5, SOME_HASH, LEAF[1], [LEAF[0], N1[1], LEAF[4]], True),
    Inc("4/removed-component.json", 1, 5, ROOT[5], LEAF[1], [LEAF[0], N1[1]], True),
    Inc("4/trailing-garbage.json", 1, 5, ROOT[5], LEAF[1], [LEAF[0], N1[1], LEAF[4], ""], True),
    Inc("4/trailing-root.json", 1, 5, ROOT[5], LEAF[1], [LEAF[0], N1[1], LEAF[4], ROOT[5]], True),
    Inc("4/treeSize-div-@2.json", 1, 2, ROOT[5], LEAF[1], [LEAF[0], N1[1], LEAF[4]], True),
    Inc("4/treeSize-mul-@2.json", 1, 10, ROOT[5], LEAF[1], [LEAF[0], N1[1], LEAF[4]], True),
    Inc("4/wrong-leaf.json", 1, 5, ROOT[5], WRONG_LEAF, [LEAF[0], N1[1], LEAF[4]], True),
    Inc("additional/0/empty-root-and-random-leaf.json", 0, 0, EMPTY, SOME_HASH, [], True),
    Inc("additional/0/empty-root.json", 0, 0, EMPTY, "", [], True),
    Inc("additional/0/random-leaf.json", 0, 0, "", SOME_HASH, [], True),
    Inc("additional/1/empty-root-and-random-leaf.json", 0, 1, EMPTY, SOME_HASH, [], True),
    Inc("additional/1/empty-root.json", 0, 1, EMPTY, "", [], True),
    Inc("additional/1/random-leaf.json", 0, 1, "", SOME_HASH, [], True),
    Inc("additional/2/empty-root-and-random-leaf.json", 1, 0, EMPTY, SOME_HASH, [], True),
    Inc("additional/2/empty-root.json", 1, 0, EMPTY, "", [], True),
    Inc("additional/2/random-leaf.json", 1, 0, "", SOME_HASH, [], True),
    Inc("additional/3/empty-root-and-random-leaf.json", 2, 1, EMPTY, SOME_HASH, [], True),
    Inc("additional/3/empty-root.json", 2, 1, EMPTY, "", [], True),
    Inc("additional/3/random-leaf.json", 2, 1, "", SOME_HASH, [], True),
    Inc("single-entry/empty-leaf.json", 0, 1, DATA_HASH, "", [], True),
    Inc("single-entry/empty-root-and-leaf.json", 0, 1, "", "", [], True),
    Inc("single-entry/empty-root.json", 0, 1, "", DATA_HASH, [], True),
    Inc("single-entry/matching-root-and-leaf.json", 0, 1, DATA_HASH, DATA_HASH, [], False),
]

# Every file of testdata/consistency/ (paths below are relative to that folder).
Con = ConsistencyProbe
CONSISTENCY_PROBES = [
    Con("0/happy-path.json", 1, 1, ROOT[1], ROOT[1], [], False),
    Con("1/empty-proof.json", 1, 8, ROOT[1], ROOT[8], [], True),
    Con("1/happy-path.json", 1, 8, ROOT[1], ROOT[8], [LEAF[1], N1[1], N2[1]], False),
    Con(
        "1/modified-proof@0-bit-@4.json",
        1,
        8,
        ROOT[1],
        ROOT[8],
        ["86a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", N1[1], N2[1]],
        True,
    ),
    Con(
        "1/modified-proof@1-bit-@4.json",
        1,
        8,
        ROOT[1],
        ROOT[8],
        [LEAF[1], "4f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", N2[1]],
        True,
    ),
    Con(
        "1/modified-proof@2-bit-@4.json",
        1,
        8,
        ROOT[1],
        ROOT[8],
        [LEAF[1], N1[1], "7b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
        True,
    ),
    Con("1/preceding-garbage.json", 1, 8, ROOT[1], ROOT[8], ["", LEAF[1], N1[1], N2[1]], True),
    Con(
        "1/preceding-proof-@0.json", 1, 8, ROOT[1], ROOT[8], [LEAF[1], LEAF[1], N1[1], N2[1]], True
    ),
    Con("1/preceding-root1.json", 1, 8, ROOT[1], ROOT[8], [ROOT[1], LEAF[1], N1[1], N2[1]], True),
    Con("1/preceding-root2.json", 1, 8, ROOT[1], ROOT[8], [ROOT[8], LEAF[1], N1[1], N2[1]], True),
    Con("1/size1-XOR-@2.json", 3, 8, ROOT[1], ROOT[8], [LEAF[1], N1[1], N2[1]], True),
    Con("1/size1-plus-@1.json", 2, 8, ROOT[1], ROOT[8], [LEAF[1], N1[1], N2[1]], True),
    Con("1/size1-sub-@1.json", 0, 8, ROOT[1], ROOT[8], [LEAF[1], N1[1], N2[1]], True),
    Con("1/size2-div-@2.json", 1, 4, ROOT[1], ROOT[8], [LEAF[1], N1[1], N2[1]], True),
    Con("1/size2-mul-@2.json", 1, 16, ROOT[1], ROOT[8], [LEAF[1], N1[1], N2[1]], True),
    Con("1/swapped-roots.json", 1, 8, ROOT[8], ROOT[1], [LEAF[1], N1[1], N2[1]], True),
    Con("1/trailing-garbage.json", 1, 8, ROOT[1], ROOT[8], [LEAF[1], N1[1], N2[1], ""], True),
    Con("1/trailing-root1.json", 1, 8, ROOT[1], ROOT[8], [LEAF[1], N1[1], N2[1], ROOT[1]], True),
    Con("1/trailing-root2.json", 1, 8, ROOT[1], ROOT[8], [LEAF[1], N1[1], N2[1], ROOT[8]], True),
    Con("1/truncated-proof.json", 1, 8, ROOT[1], ROOT[8], [LEAF[1], N1[1]], True),
    Con("1/wrong-root1.json", 1, 8, WRONG_ROOT, ROOT[8], [LEAF[1], N1[1], N2[1]], True),
    Con("1/wrong-root2.json", 1, 8, ROOT[1], WRONG_ROOT, [LEAF[1], N1[1], N2[1]], True),
    Con("2/empty-proof.json", 6, 8, ROOT[6], ROOT[8], [], True),
    Con("2/happy-path.json", 6, 8, ROOT[6], ROOT[8], [N1[2], N1[3], N2[0]], False),
    Con(
        "2/modified-proof@0-bit-@4.json",
        6,
        8,
        ROOT[6],
        ROOT[8],
        ["1ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", N1[3], N2[0]],
        True,
    ),
    Con(
        "2/modified-proof@1-bit-@4.json",
        6,
        8,
        ROOT[6],
        ROOT[8],
        [N1[2], "da854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", N2[0]],
        True,
    ),
    Con(
        "2/modified-proof@2-bit-@4.json",
        6,
        8,
        ROOT[6],
        ROOT[8],
        [N1[2], N1[3], "c37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
        True,
    ),
    Con("2/preceding-garbage.json", 6, 8, ROOT[6], ROOT[8], ["", N1[2], N1[3], N2[0]], True),
    Con("2/preceding-proof-@0.json", 6, 8, ROOT[6], ROOT[8], [N1[2], N1[2], N1[3], N2[0]], True),
    Con("2/preceding-root1.json", 6, 8, ROOT[6], ROOT[8], [ROOT[6], N1[2], N1[3], N2[0]], True),
    Con("2/preceding-root2.json", 6, 8, ROOT[6], ROOT[8], [ROOT[8], N1[2], N1[3], N2[0]], True),
    Con("2/size1-XOR-@2.json", 4, 8, ROOT[6], ROOT[8], [N1[2], N1[3], N2[0]], True),
    Con("2/size1-plus-@1.json", 7, 8, ROOT[6], ROOT[8], [N1[2], N1[3], N2[0]], True),
    Con("2/size1-sub-@1.json", 5, 8, ROOT[6], ROOT[8], [N1[2], N1[3], N2[0]], True),
    Con("2/size2-div-@2.json", 6, 4, ROOT[6], ROOT[8], [N1[2], N1[3], N2[0]], True),
    Con("2/size2-mul-@2.json", 6, 16, ROOT[6], ROOT[8], [N1[2], N1[3], N2[0]], True),
    Con("2/swapped-roots.json", 6, 8, ROOT[8], ROOT[6], [N1[2], N1[3], N2[0]], True),
    Con("2/trailing-garbage.json", 6, 8, ROOT[6], ROOT[8], [N1[2], N1[3], N2[0], ""], True),
    Con("2/trailing-root1.json", 6, 8, ROOT[6], ROOT[8], [N1[2], N1[3], N2[0], ROOT[6]], True),
    Con("2/trailing-root2.json", 6, 8, ROOT[6], ROOT[8], [N1[2], N1[3], N2[0], ROOT[8]], True),
    Con("2/truncated-proof.json", 6, 8, ROOT[6], ROOT[8], [N1[2], N1[3]], True),
    Con("2/wrong-root1.json", 6, 8, WRONG_ROOT, ROOT[8], [N1[2], N1[3], N2[0]], True),
    Con("2/wrong-root2.json", 6, 8, ROOT[6], WRONG_ROOT, [N1[2], N1[3], N2[0]], True),
    Con("3/empty-proof.json", 2, 5, ROOT[2], ROOT[5], [], True),
    Con("3/happy-path.json", 2, 5, ROOT[2], ROOT[5], [N1[1], LEAF[4]], False),
    Con(
        "3/modified-proof@0-bit-@4.json",
        2,
        5,
        ROOT[2],
        ROOT[5],
        ["4f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", LEAF[4]],
        True,
    ),
    Con(
        "3/modified-proof@1-bit-@4.json",
        2,
        5,
        ROOT[2],
        ROOT[5],
        [N1[1], "ac1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
        True,
    ),
    Con("3/preceding-garbage.json", 2, 5, ROOT[2], ROOT[5], ["", N1[1], LEAF[4]], True),
    Con("3/preceding-proof-@0.json", 2, 5, ROOT[2], ROOT[5], [N1[1], N1[1], LEAF[4]], True),
    Con("3/preceding-root1.json", 2, 5, ROOT[2], ROOT[5], [ROOT[2], N1[1], LEAF[4]], True),
    Con("3/preceding-root2.json", 2, 5, ROOT[2], ROOT[5], [ROOT[5], N1[1], LEAF[4]], True),
    Con("3/size1-XOR-@2.json", 0, 5, ROOT[2], ROOT[5], [N1[1], LEAF[4]], True),
    Con("3/size1-plus-@1.json", 3, 5, ROOT[2], ROOT[5], [N1[1], LEAF[4]], True),
    Con("3/size1-sub-@1.json", 1, 5, ROOT[2], ROOT[5], [N1[1], LEAF[4]], True),
    Con("3/size2-div-@2.json", 2, 2, ROOT[2], ROOT[5], [N1[1], LEAF[4]], True),
    Con("3/size2-mul-@2.json", 2, 10, ROOT[2], ROOT[5], [N1[1], LEAF[4]], True),
    Con("3/swapped-roots.json", 2, 5, ROOT[5], ROOT[2], [N1[1], LEAF[4]], True),
    Con("3/trailing-garbage.json", 2, 5, ROOT[2], ROOT[5], [N1[1], LEAF[4], ""], True),
    Con("3/trailing-root1.json", 2, 5, ROOT[2], ROOT[5], [N1[1], LEAF[4], ROOT[2]], True),
    Con("3/trailing-root2.json", 2, 5, ROOT[2], ROOT[5], [N1[1], LEAF[4], ROOT[5]], True),
    Con("3/truncated-proof.json", 2, 5, ROOT[2], ROOT[5], [N1[1]], True),
    Con("3/wrong-root1.json", 2, 5, WRONG_ROOT, ROOT[5], [N1[1], LEAF[4]], True),
    Con("3/wrong-root2.json", 2, 5, ROOT[2], WRONG_ROOT, [N1[1], LEAF[4]], True),
    Con("4/empty-proof.json", 6, 7, ROOT[6], ROOT[7], [], True),
    Con("4/happy-path.json", 6, 7, ROOT[6], ROOT[7], [N1[2], LEAF[6], N2[0]], False),
    Con(
        "4/modified-proof@0-bit-@4.json",
        6,
        7,
        ROOT[6],
        ROOT[7],
        ["1ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", LEAF[6], N2[0]],
        True,
    ),
    Con(
        "4/modified-proof@1-bit-@4.json",
        6,
        7,
        ROOT[6],
        ROOT[7],
        [N1[2], "a08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f", N2[0]],
        True,
    ),
    Con(
        "4/modified-proof@2-bit-@4.json",
        6,
        7,
        ROOT[6],
        ROOT[7],
        [N1[2], LEAF[6], "c37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
        True,
    ),
    Con("4/preceding-garbage.json", 6, 7, ROOT[6], ROOT[7], ["", N1[2], LEAF[6], N2[0]], True),
    Con("4/preceding-proof-@0.json", 6, 7, ROOT[6], ROOT[7], [N1[2], N1[2], LEAF[6], N2[0]], True),
    Con("4/preceding-root1.json", 6, 7, ROOT[6], ROOT[7], [ROOT[6], N1[2], LEAF[6], N2[0]], True),
    Con("4/preceding-root2.json", 6, 7, ROOT[6], ROOT[7], [ROOT[7], N1[2], LEAF[6], N2[0]], True),
    Con("4/size1-XOR-@2.json", 4, 7, ROOT[6], ROOT[7], [N1[2], LEAF[6], N2[0]], True),
    Con("4/size1-plus-@1.json", 7, 7, ROOT[6], ROOT[7], [N1[2], LEAF[6], N2[0]], True),
    Con("4/size1-sub-@1.json", 5, 7, ROOT[6], ROOT[7], [N1[2], LEAF[6], N2[0]], True),
    Con("4/size2-div-@2.json", 6, 3, ROOT[6], ROOT[7], [N1[2], LEAF[6], N2[0]], True),
    Con("4/size2-mul-@2.json", 6, 14, ROOT[6], ROOT[7], [N1[2], LEAF[6], N2[0]], True),
    Con("4/swapped-roots.json", 6, 7, ROOT[7], ROOT[6], [N1[2], LEAF[6], N2[0]], True),
    Con("4/trailing-garbage.json", 6, 7, ROOT[6], ROOT[7], [N1[2], LEAF[6], N2[0], ""], True),
    Con("4/trailing-root1.json", 6, 7, ROOT[6], ROOT[7], [N1[2], LEAF[6], N2[0], ROOT[6]], True),
    Con("4/trailing-root2.json", 6, 7, ROOT[6], ROOT[7], [N1[2], LEAF[6], N2[0], ROOT[7]], True),
    Con("4/truncated-proof.json", 6, 7, ROOT[6], ROOT[7], [N1[2], LEAF[6]], True),
    Con("4/wrong-root1.json", 6, 7, WRONG_ROOT, ROOT[7], [N1[2], LEAF[6], N2[0]], True),
    Con("4/wrong-root2.json", 6, 7, ROOT[6], WRONG_ROOT, [N1[2], LEAF[6], N2[0]], True),
    Con(
        "additional/consistency-check-on-empty-tree-size1-is-zero-is-useless.json",
        0,
        1,
        EMPTY,
        EMPTY,
        [EMPTY],
        True,
    ),
    Con(
        "additional/roots-do-not-match-and-sizes-are-zero.json", 0, 0, EMPTY, DONT_CARE_2, [], True
    ),
    Con(
        "additional/roots-do-not-not-match-and-sizes-are-one.json",
        1,
        1,
        EMPTY,
        DONT_CARE_2,
        [],
        True,
    ),
    Con(
        "additional/size1-is-greater-than-size2-again.json",
        2,
        1,
        DONT_CARE_1,
        DONT_CARE_2,
        [],
        True,
    ),
    Con("additional/size1-is-greater-than-size2.json", 1, 0, DONT_CARE_1, DONT_CARE_2, [], True),
    Con(
        "additional/size1-is-zero-and-does-not-equal-size2.json",
        0,
        1,
        DONT_CARE_1,
        DONT_CARE_2,
        [],
        True,
    ),
    Con("additional/size1-is-zero-and-size2-is-not-zero.json", 0, 1, EMPTY, DONT_CARE_2, [], True),
    Con(
        "additional/sizes-are-equal-one-and-proof-is-empty.json",
        1,
        1,
        DONT_CARE_2,
        DONT_CARE_2,
        [],
        False,
    ),
    Con(
        "additional/sizes-are-equal-one-but-roots-are-not.json",
        1,
        1,
        DONT_CARE_1,
        DONT_CARE_2,
        [],
        True,
    ),
    Con(
        "additional/sizes-are-equal-zero-and-proof-is-empty.json",
        0,
        0,
        DONT_CARE_1,
        DONT_CARE_1,
        [],
        True,
    ),
    Con(
        "additional/sizes-are-equal-zero-but-roots-are-not.json",
        0,
        0,
        DONT_CARE_1,
        DONT_CARE_2,
        [],
        True,
    ),
    Con(
        "additional/sizes-do-not-watch-and-proof-is-empty.json",
        1,
        2,
        DONT_CARE_1,
        DONT_CARE_2,
        [],
        True,
    ),
    Con(
        "additional/sizes-match-but-proof-is-not-empty-and-sizes-are-one.json",
        1,
        1,
        EMPTY,
        EMPTY,
        [EMPTY],
        True,
    ),
    Con(
        "additional/sizes-match-but-proof-is-not-empty-and-sizes-are-zero.json",
        0,
        0,
        EMPTY,
        EMPTY,
        [EMPTY],
        True,
    ),
]


def h(hex_string: str) -> bytes:
    return bytes.fromhex(hex_string)


def leaf_hashes() -> list[bytes]:
    return [leaf_hash(h(data)) for data in LEAF_INPUTS]


def list_subtree(lo: int, hi: int) -> bytes:
    """Leaves [lo, hi) hashed from the leaf inputs, through `root_of`."""
    return root_of(leaf_hashes()[lo:hi])


# subtree_from over the complete-subtree hashes of constants.go: proofs built from them
# need no hashing of ours except to join incomplete right edges.
table_subtree = subtree_from(lambda level, index: h(NODE_HASHES[level][index]))

SUBTREES = [
    pytest.param(list_subtree, id="list"),
    pytest.param(table_subtree, id="node-table"),
]


def _param(probe: InclusionProbe | ConsistencyProbe) -> object:
    return pytest.param(probe, id=probe.path)


# --- hashing and roots --------------------------------------------------------------------


def test_table_sizes() -> None:
    """Every JSON probe of testdata/inclusion and testdata/consistency is in the tables."""
    assert len(INCLUSION_PROBES) == 98
    assert len(CONSISTENCY_PROBES) == 98
    assert len({p.path for p in INCLUSION_PROBES + CONSISTENCY_PROBES}) == 196


@pytest.mark.parametrize("i", range(8))
def test_leaf_hash(i: int) -> None:
    assert leaf_hash(h(LEAF_INPUTS[i])).hex() == LEAF[i]


def test_leaf_hash_of_data() -> None:
    assert leaf_hash(b"data").hex() == DATA_HASH


@pytest.mark.parametrize(
    ("level", "index"),
    [(level, index) for level in range(1, 4) for index in range(len(NODE_HASHES[level]))],
)
def test_node_hashes(level: int, index: int) -> None:
    left = h(NODE_HASHES[level - 1][2 * index])
    right = h(NODE_HASHES[level - 1][2 * index + 1])
    assert node_hash(left, right).hex() == NODE_HASHES[level][index]
    width = 1 << level
    assert list_subtree(index * width, (index + 1) * width).hex() == NODE_HASHES[level][index]


@pytest.mark.parametrize("size", range(9))
def test_root_of(size: int) -> None:
    assert root_of(leaf_hashes()[:size]).hex() == ROOT[size]
    assert root_of(iter(leaf_hashes()[:size])).hex() == ROOT[size]  # a one-pass stream


def test_empty_root() -> None:
    assert EMPTY_ROOT.hex() == EMPTY
    assert root_of([]) == EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_subtree_from_node_table(size: int) -> None:
    assert table_subtree(0, size).hex() == ROOT[size]


# --- proof vectors of cmd/proofgen -------------------------------------------------------


@pytest.mark.parametrize("subtree", SUBTREES)
@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS)
def test_inclusion_vector(index: int, size: int, proof: list[str], subtree: Subtree) -> None:
    built = inclusion_proof(index, size, subtree)
    assert [p.hex() for p in built] == proof
    leaf = leaf_hashes()[index]
    assert root_from_inclusion(index, size, leaf, built).hex() == ROOT[size]
    verify_inclusion(index, size, leaf, built, h(ROOT[size]))


@pytest.mark.parametrize("subtree", SUBTREES)
@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS)
def test_consistency_vector(old: int, new: int, proof: list[str], subtree: Subtree) -> None:
    built = consistency_proof(old, new, subtree)
    assert [p.hex() for p in built] == proof
    verify_consistency(old, new, h(ROOT[old]), h(ROOT[new]), built)


@pytest.mark.parametrize(
    "probe",
    [p for p in INCLUSION_PROBES if p.file.endswith("/happy-path.json")],
    ids=lambda p: p.path,
)
def test_inclusion_happy_path_is_our_proof(probe: InclusionProbe) -> None:
    """The happy-path JSON probes are the proofs we build over the 8 leaves."""
    assert probe.leaf_hash == LEAF[probe.leaf_index]
    assert probe.root == ROOT[probe.size]
    assert [
        p.hex() for p in inclusion_proof(probe.leaf_index, probe.size, list_subtree)
    ] == probe.proof


@pytest.mark.parametrize(
    "probe",
    [p for p in CONSISTENCY_PROBES if p.file.endswith("/happy-path.json")],
    ids=lambda p: p.path,
)
def test_consistency_happy_path_is_our_proof(probe: ConsistencyProbe) -> None:
    assert (probe.old_root, probe.new_root) == (ROOT[probe.old], ROOT[probe.new])
    assert [p.hex() for p in consistency_proof(probe.old, probe.new, list_subtree)] == probe.proof


# --- every JSON probe against our verifiers ---------------------------------------------


@pytest.mark.parametrize("probe", [_param(p) for p in INCLUSION_PROBES])
def test_inclusion_probe(probe: InclusionProbe) -> None:
    args = (probe.leaf_index, probe.size, h(probe.leaf_hash), [h(p) for p in probe.proof])
    if probe.want_err:
        with pytest.raises(ProofError):
            verify_inclusion(*args, h(probe.root))
    else:
        verify_inclusion(*args, h(probe.root))


@pytest.mark.parametrize("probe", [_param(p) for p in CONSISTENCY_PROBES])
def test_consistency_probe(probe: ConsistencyProbe) -> None:
    args = (probe.old, probe.new, h(probe.old_root), h(probe.new_root), [h(p) for p in probe.proof])
    if probe.want_err:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)
