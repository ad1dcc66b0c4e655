"""grow and graph: growing a knowledge graph, and the commands that read, extract, score and export graphs."""
from __future__ import annotations

import json
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from ..grow import (DEFAULT_JUDGE_THRESHOLD, DEFAULT_THRESHOLD, DEFAULT_TOPIC_FLOOR, EXTRACT_MODES, NEXT_POLICIES, GrowConfig,
                    GrowRun, compose, concept_path, export_graph, extract, judge_agreement, load_graphml,
                    load_judge_labels, load_mine, run_mine, unmerge)
from ..models import Budget, BudgetExceeded, Meter, ModelUnavailable, load_embedder
from ..runs import RunError, RunStore, terminal_safe
from ._common import (EXIT_INCOMPLETE, UsageError, _add_model_args, _add_run_dir, _load_model, _number,
                      _refuse_record_file, _whole, console, out)


def add_commands(sub) -> None:
    p = sub.add_parser("grow", help="grow a knowledge graph by agentic graph reasoning (resumable)")
    p.add_argument("question", help='the seed question, e.g. "Discuss an interesting idea in bio-inspired materials science."')
    p.add_argument("--iterations", type=_whole(1), required=True, help="grow until this many iterations are recorded")
    p.add_argument("--topic", help="broad topic every next question stays within")
    p.add_argument("--topic-floor", type=_number(0, 1), default=DEFAULT_TOPIC_FLOOR,
                   help="with --topic: next questions are about concepts whose cosine with the topic is at least "
                        "this (default %(default)s; 0 turns it off)")
    p.add_argument("--next", default="newest", choices=NEXT_POLICIES, dest="next_policy",
                   help="what the next question is about: newest concepts (the paper's rule, default), low-degree "
                        "frontier, bridge nodes between communities, or a random node")
    p.add_argument("--extract-mode", choices=EXTRACT_MODES, default="single",
                   help="how each answer becomes a graph: one call (default), concepts then relations, or extract "
                        "then check, critique and fix")
    p.add_argument("--threshold", type=_number(0, 1, low_open=True), default=DEFAULT_THRESHOLD,
                   help=f"cosine similarity at which two concept names merge (default {DEFAULT_THRESHOLD})")
    p.add_argument("--embedder", default="minilm", help="minilm (default, offline) or openai:MODEL (uses --base-url)")
    p.add_argument("--snapshot-every", type=_whole(1), default=1, help="GraphML snapshot every N iterations (default 1)")
    p.add_argument("--run-tokens", type=_whole(1), help="token budget for the whole run")
    _add_run_dir(p)
    _add_model_args(p)

    p = sub.add_parser("graph", help="inspect, score and export grown graphs: report, compose, extract, mine, "
                                     "mine-judge, unmerge, export")
    graph_sub = p.add_subparsers(dest="graph_command", required=True)
    q = graph_sub.add_parser("report", help="write report.html: metrics, degree distribution, hubs, an interactive view")
    _add_run_dir(q, reads=True)
    q = graph_sub.add_parser("compose", help="compositional reasoning along the longest path, or from one concept to another")
    _add_run_dir(q)
    q.add_argument("--from", dest="source", help="first concept (with --to)")
    q.add_argument("--to", dest="target", help="last concept (with --from)")
    _add_model_args(q)
    q = graph_sub.add_parser("extract", help="extract a knowledge graph from any text file, as grow does, and print it "
                                             "as JSON")
    q.add_argument("file", type=Path)
    q.add_argument("--mode", choices=EXTRACT_MODES, default="single",
                   help="single: one call; multi: concepts first, then relations among them; reflect: extract, "
                        "check the rules, critique and fix (default single)")
    q.add_argument("--max-tokens", type=_whole(16), default=800, help="per reply (default 800)")
    q.add_argument("--output", type=Path, help="write the JSON here instead of printing it")
    _add_model_args(q)
    q = graph_sub.add_parser("mine", help="score extraction on MINE: the share of each essay's 15 facts a judge can "
                                          "infer from the extracted graph")
    q.add_argument("--data", type=Path, default=Path("../shared/data/mine"),
                   help="a folder with essays.json and facts.json (default ../shared/data/mine)")
    q.add_argument("--limit", type=_whole(1), help="the first N essays")
    q.add_argument("--mode", choices=EXTRACT_MODES, default="single",
                   help="how each essay's graph is extracted, as grow does (default single)")
    q.add_argument("--judge-model", help="the judge, in --model's form (default: the model that extracts); it "
                                         "must give probabilities (llama.cpp models do; servers need logprobs)")
    q.add_argument("--judge-threshold", type=_number(0, 1), default=DEFAULT_JUDGE_THRESHOLD,
                   help="P(YES) at which the judge's answer counts as YES (default %(default)s, chosen for the "
                        "embedded model with looplab graph mine-judge; choose one for another judge the same way)")
    q.add_argument("--embedder", default="minilm", help="minilm (default, offline) or openai:MODEL")
    _add_run_dir(q)
    _add_model_args(q)
    q = graph_sub.add_parser("mine-judge", help="how well a judge agrees with hand-labelled MINE pairs: the "
                                                "threshold on their tuning half, agreement on their test half")
    q.add_argument("--judge-model", help="the judge, in --model's form (default: --model)")
    _add_run_dir(q)
    _add_model_args(q)
    q = graph_sub.add_parser("unmerge", help="undo a merge from the record: NAME becomes a concept of its own, and "
                                             "the graph, snapshots and metrics are replayed")
    q.add_argument("name", help="the name as the model wrote it (see the merges in report.html or looplab view)")
    q.add_argument("--embedder", default="minilm", help="the run's embedder (default minilm)")
    _add_run_dir(q)
    q = graph_sub.add_parser("export", help="write the graph as GraphML, GEXF, node-link JSON, or nodes and edges CSV")
    _add_run_dir(q, reads=True)
    q.add_argument("--format", choices=["graphml", "gexf", "json", "csv"], default="graphml",
                   help="graphml (default; networkx, Cytoscape), gexf (Gephi, with colour by community and size by "
                        "degree), json (node-link) or csv (nodes and edges)")
    q.add_argument("--output", type=Path, help="file to write (default: graph_export.<format> in the run directory; "
                                               "csv writes NAME_nodes.csv and NAME_edges.csv)")
    q.add_argument("--raw-csv", action="store_true",
                   help="write CSV cells as the model wrote them; by default a cell a spreadsheet would run as a "
                        "formula (starting with = + - @) gets a leading apostrophe")


def cmd_grow(args) -> int:
    if not args.question.strip():
        raise UsageError("the seed question is empty; give the question the graph grows from")
    config = GrowConfig(args.question, topic=args.topic, next_policy=args.next_policy, threshold=args.threshold,
                        extract_mode=args.extract_mode, topic_floor=args.topic_floor)
    model = _load_model(args)
    with console.status("loading the embedder"):
        embedder = load_embedder(args.embedder, args.base_url)
    with RunStore(args.run_dir) as store:
        run = GrowRun(store, config, model, embedder, snapshot_every=args.snapshot_every,
                      run_meter=Meter(Budget(tokens=args.run_tokens)))
        done = run.finished()
        if done:
            console.print(f"Resuming after iteration {done} ({len(run.graph)} nodes).")
        columns = [TextColumn("[bold]grow"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[nodes]} nodes, {task.fields[edges]} edges"), TimeElapsedColumn(),
                   TimeRemainingColumn()]
        with Progress(*columns, console=console, disable=args.quiet) as progress:
            bar = progress.add_task("grow", total=args.iterations, completed=min(done, args.iterations),
                                    nodes=len(run.graph), edges=run.graph.number_of_edges())

            def advance(result):
                if result.status != "ok":
                    console.print(Text(f"iteration {result.iteration} skipped: {terminal_safe(result.reason or '')}",
                                       style="yellow"))
                progress.update(bar, advance=1, nodes=result.metrics["nodes"], edges=result.metrics["edges"])

            stopped = False
            try:
                run.run(args.iterations, on_iteration=advance)
            except BudgetExceeded as e:
                stopped = True
                console.print(f"[red]stopped: the run budget is spent ({e}); raise it and re-run to continue")
            except ModelUnavailable as e:
                stopped = True
                console.print(Text(f"stopped: {terminal_safe(str(e))}; re-run the same command to resume", style="red"))
        summary = run.summary()
        (store.dir / "grow_summary.json").write_text(json.dumps(summary, indent=2))
    final = summary.get("final", {})
    out.print(f"{summary['iterations']} iterations; {final.get('nodes', 0)} nodes, {final.get('edges', 0)} edges, "
                    f"modularity {final.get('modularity') or 0:.3f}; first-try parse rate "
                    f"{summary.get('first_try_parse_rate', 0):.0%}; {summary.get('seconds_per_iteration', 0)} s per "
                    f"iteration.\nGraph: {Path(args.run_dir) / 'graph.graphml'}, metrics: "
                    f"{Path(args.run_dir) / 'metrics.csv'}")
    return EXIT_INCOMPLETE if stopped else 0


def _extract_file(args) -> int:
    try:
        text = args.file.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read {args.file} as text: {getattr(e, 'strerror', None) or e}") from None
    if not text.strip():
        raise UsageError(f"{args.file} is empty")
    model = _load_model(args)
    with console.status(f"extracting ({args.mode})"):
        found = extract(text, lambda messages, limit, schema: model.complete(
            messages, temperature=0.0, max_tokens=limit, json_schema=schema), args.mode, args.max_tokens)
    result = {"mode": args.mode, "model": model.name, "failures": found.failures, "truncated": found.truncated,
              **(found.graph.as_dict() if found.graph else {"nodes": [], "edges": [], "dropped": [], "error": found.reason})}
    text_out = json.dumps(result, indent=1, ensure_ascii=False)
    if args.output:
        _refuse_record_file(args.output)
        if args.output.exists() and not _is_extract_output(args.output):
            raise UsageError(f"{args.output} exists and is not a graph looplab extracted; give another --output")
        try:
            args.output.write_text(text_out + "\n")
        except OSError as e:
            raise UsageError(f"cannot write {args.output}: {e.strerror}") from None
        console.print(f"Wrote {args.output}: {len(result['nodes'])} concepts, {len(result['edges'])} relations")
    else:
        out.print(text_out, markup=False, highlight=False, soft_wrap=True)
    return 0 if found.graph else EXIT_INCOMPLETE


def _mine(args) -> int:
    try:
        essays = load_mine(args.data)[:args.limit]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(f"{args.data.resolve()} is not a MINE folder (essays.json and facts.json: {e}); looplab does "
                         "not ship MINE's essays, so give --data the folder that holds them (KGGen's MINE benchmark)"
                         ) from None
    model = _load_model(args)
    judge = _load_model(args, args.judge_model) if args.judge_model else model
    with console.status("loading the embedder"):
        embedder = load_embedder(args.embedder, args.base_url)
    with RunStore(args.run_dir) as store, console.status(f"MINE, {len(essays)} essays, mode {args.mode}"):
        score = run_mine(store, essays, model, judge, embedder, args.mode, args.judge_threshold)
    console.print(f"MINE ({args.mode}): {score['recovered']} of {score['facts']} facts recovered "
                  f"({100 * (score['score'] or 0):.1f}%, judge P(YES) >= {args.judge_threshold}) over "
                  f"{score['essays']} essays; {score['mean_edges']} relations per essay; {score['truncated']} replies "
                  "cut at the token limit. Published with large hosted models: KGGen 66.07%, GraphRAG 47.80%, "
                  "OpenIE 29.84%.")
    return 0


def _mine_judge(args) -> int:
    judge = _load_model(args, args.judge_model) if args.judge_model else _load_model(args)
    pairs = load_judge_labels()
    with RunStore(args.run_dir) as store, console.status(f"judging {len(pairs)} hand-labelled pairs"):
        found = judge_agreement(store, judge, pairs)
    console.print(f"{judge.name}: threshold P(YES) >= {found['threshold']} (best kappa on the {found['pairs']['tune']} "
                  f"tuning pairs). Test half ({found['pairs']['test']} pairs, {found['test_inferable']} inferable): "
                  f"agreement {found['test_agreement']:.3f}, kappa {found['test_kappa']:.3f}, says YES to "
                  f"{found['test_says_yes']}, ROC AUC {found['test_auc']} (tuning half {found['tune_auc']}).")
    return 0


def cmd_graph(args) -> int:
    if args.graph_command == "extract":
        return _extract_file(args)
    if args.graph_command == "mine":
        return _mine(args)
    if args.graph_command == "mine-judge":
        return _mine_judge(args)
    source = Path(args.run_dir) / "graph.graphml"
    if not source.is_file():
        raise RunError(f"{args.run_dir} has no graph.graphml; grow one first with looplab grow")
    load_graphml(source)  # a damaged file is refused here with one sentence, before any command reads it
    if args.graph_command == "report":
        from ..report import graph_report

        console.print(f"Wrote {graph_report(args.run_dir)} (opens offline in any browser)")
    elif args.graph_command == "compose":
        graph = load_graphml(source)
        path = concept_path(graph, args.source, args.target)
        console.print(f"Path of {len(path)} concepts: {' -> '.join(path)}")
        model = _load_model(args)
        with RunStore(args.run_dir) as store, console.status("composing"):
            written = compose(store, graph, model, path)
        console.print(f"Wrote {written}")
    elif args.graph_command == "unmerge":
        with console.status("loading the embedder"):
            embedder = load_embedder(args.embedder, None)
        with RunStore(args.run_dir) as store:
            done = unmerge(store, embedder, args.name)
        console.print(Text(f"{done['name']} is no longer merged into {done['was_merged_into']} "
                           f"({done['resolutions_changed']} resolutions from iteration {done['from_iteration']}); "
                           f"the graph now has {done['nodes']} nodes and {done['edges']} edges"))
    elif args.graph_command == "export":
        output = args.output or Path(args.run_dir) / f"graph_export.{args.format}"
        _refuse_record_file(output)
        if args.output:  # the default names in the run directory are looplab's own
            targets = ([args.output.with_name(f"{args.output.stem}_{part}.csv") for part in ("nodes", "edges")]
                       if args.format == "csv" else [args.output])
            taken = [t for t in targets if t.exists()]
            if taken:
                raise UsageError(f"{taken[0]} exists; give --output a new name (looplab overwrites only its own "
                                 "files)")
        try:
            written = export_graph(load_graphml(source), output, args.format, raw_csv=args.raw_csv)
        except OSError as e:
            raise UsageError(f"cannot write {output}: {e.strerror}") from None
        console.print(f"Wrote {' and '.join(str(p) for p in written)}")
    return 0


def _is_extract_output(path: Path) -> bool:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and {"mode", "model", "failures"} <= data.keys()
