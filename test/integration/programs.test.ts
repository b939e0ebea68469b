// Debian's other real programs (fixtures/programs): bash running a script
// (functions, arrays, here-documents, traps, subshells, pipelines, `read`
// loops, process substitution, a coprocess) and its jobs (wait, signals,
// timeout, xargs -P, a process group), coreutils driven by bash over files
// it makes, a parallel sort through temporary files and a tar+gzip round
// trip, the sqlite3 shell (a join, aggregates, transactions, .mode/.headers
// output, a failing constraint), lua5.4 (tables, metatables, closures,
// patterns, coroutines, io) and perl one-liners (-ne/-pe/-lane, -i,
// regexes, sprintf, hashes, sort), each in `tsvisor do --packages P`, must
// print what it printed under QEMU user mode chrooted into the same rootfs.
// Skipped, saying why, without the packages' rootfs (package-suite.ts).

import { describePackageSuite } from './package-suite.js';

describePackageSuite("Debian's bash, coreutils, sqlite3, lua5.4 and perl (fixtures/programs) give what QEMU gave", 'programs');
