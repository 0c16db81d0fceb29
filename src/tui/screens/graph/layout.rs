//! The feature graph screen: the DAG of the pushed graph as a layered drawing with box characters (roots on the
//! left, each feature one column right of its deepest parent; long edges routed through the columns in between),
//! nodes coloured by status and labelled with their counts, the selected node's upstream and downstream
//! highlighted. Layout and painting are pure functions of the graph and the statuses, so they are snapshot-tested.

use std::collections::{BTreeSet, HashMap};

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};

use crate::engine::graph::FeatureGraph;
use crate::engine::keys::FeatureKey;

/// Rows of a node box (border, key, status, border).
pub(crate) const BOX_H: usize = 4;
/// Empty rows between boxes of one column.
pub(crate) const V_GAP: usize = 1;

/// A positioned node: a feature box, or a dummy waypoint of an edge that spans several layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Feature index in the graph (`None` for a waypoint).
    pub feature: Option<usize>,
    /// Layer (column).
    pub layer: usize,
    /// Top row of the box (waypoints: the row of their line).
    pub y: usize,
}

/// The layout of a graph: nodes per layer, edges between consecutive layers, column geometry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphLayout {
    /// Every node; features first (index = feature index), then waypoints.
    pub nodes: Vec<Node>,
    /// Edges between nodes of consecutive layers (`from` in layer L, `to` in layer L+1).
    pub edges: Vec<(usize, usize)>,
    /// Left column of each layer.
    pub layer_x: Vec<usize>,
    /// Box width of each layer.
    pub layer_w: Vec<usize>,
    /// Canvas size.
    pub width: usize,
    /// Canvas size.
    pub height: usize,
}

impl GraphLayout {
    /// The centre row of a node (where edges attach).
    pub fn mid(&self, n: usize) -> usize {
        let node = &self.nodes[n];
        if node.feature.is_some() {
            node.y + BOX_H / 2
        } else {
            node.y
        }
    }

    /// The feature nearest to `from` in direction (`dx`, `dy`): previous / next layer, or above / below in the
    /// same layer. `None` when there is none.
    pub fn neighbour(&self, from: usize, dx: i32, dy: i32) -> Option<usize> {
        let f = self.nodes.get(from)?;
        let cands = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.feature.is_some())
            .filter(|(_, n)| {
                if dx != 0 {
                    n.layer as i64 == f.layer as i64 + dx as i64
                } else {
                    n.layer == f.layer && ((dy > 0 && n.y > f.y) || (dy < 0 && n.y < f.y))
                }
            });
        cands
            .min_by_key(|(_, n)| (n.y as i64 - f.y as i64).abs())
            .map(|(i, _)| i)
    }
}

/// The key prefix a feature collapses into on the graph screen: every part of its key but the last
/// (`example/video` -> `example`, `a/b/c` -> `a/b`); `None` for one-part keys.
pub fn prefix_of(key: &FeatureKey) -> Option<String> {
    let k = key.to_string();
    k.rfind('/').map(|i| k[..i].to_string())
}

/// What the graph screen draws: one node per feature, except that the features of a collapsed key prefix
/// share one node (`example/* (4)`). Node indices are what [`layout`] and [`paint`] call `i`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphModel {
    /// First line of each node: the feature key, or `prefix/* (n)` for a collapsed prefix.
    pub labels: Vec<String>,
    /// Parent nodes of each node (deduplicated, no self edges).
    pub parents: Vec<Vec<usize>>,
    /// The node of each feature (by feature index).
    pub node_of: Vec<usize>,
    /// The features of each node (feature indices, graph order).
    pub members: Vec<Vec<usize>>,
    /// The collapsed prefix of each node (`None` for a feature's own node).
    pub prefix: Vec<Option<String>>,
    /// Nodes in topological order (parents first).
    order: Vec<usize>,
}

impl GraphModel {
    /// The nodes of `graph` with the features of every prefix in `collapsed` merged into one node (a prefix
    /// with a single feature still collapses). Errors when merging would make the drawing cyclic (a path leaves
    /// a prefix and comes back into it), naming the prefix.
    pub fn new(graph: &FeatureGraph, collapsed: &BTreeSet<String>) -> Result<Self, String> {
        let mut labels: Vec<String> = vec![];
        let mut members: Vec<Vec<usize>> = vec![];
        let mut prefix: Vec<Option<String>> = vec![];
        let mut node_of = vec![0usize; graph.features.len()];
        let mut group: HashMap<String, usize> = HashMap::new();
        for (i, f) in graph.features.iter().enumerate() {
            let p = prefix_of(&f.spec.key).filter(|p| {
                collapsed
                    .iter()
                    .any(|c| p == c || p.starts_with(&format!("{c}/")))
            });
            // the outermost collapsed prefix wins
            let p = p.map(|p| {
                collapsed
                    .iter()
                    .filter(|c| p == **c || p.starts_with(&format!("{c}/")))
                    .min_by_key(|c| c.len())
                    .cloned()
                    .unwrap_or(p)
            });
            match p {
                Some(p) => {
                    let n = *group.entry(p.clone()).or_insert_with(|| {
                        labels.push(String::new());
                        members.push(vec![]);
                        prefix.push(Some(p.clone()));
                        labels.len() - 1
                    });
                    members[n].push(i);
                    node_of[i] = n;
                }
                None => {
                    labels.push(f.spec.key.to_string());
                    members.push(vec![i]);
                    prefix.push(None);
                    node_of[i] = labels.len() - 1;
                }
            }
        }
        for (n, p) in prefix.iter().enumerate() {
            if let Some(p) = p {
                labels[n] = format!("{p}/* ({})", members[n].len());
            }
        }
        let index: HashMap<&FeatureKey, usize> = graph
            .features
            .iter()
            .enumerate()
            .map(|(i, f)| (&f.spec.key, i))
            .collect();
        let mut parents: Vec<Vec<usize>> = vec![vec![]; labels.len()];
        for (i, f) in graph.features.iter().enumerate() {
            for d in &f.spec.deps {
                if let Some(&p) = index.get(&d.feature) {
                    let (a, b) = (node_of[p], node_of[i]);
                    if a != b && !parents[b].contains(&a) {
                        parents[b].push(a);
                    }
                }
            }
        }
        // Kahn's algorithm, smallest node first (graph order)
        let mut indeg: Vec<usize> = parents.iter().map(Vec::len).collect();
        let mut children: Vec<Vec<usize>> = vec![vec![]; labels.len()];
        for (c, ps) in parents.iter().enumerate() {
            for &p in ps {
                children[p].push(c);
            }
        }
        let mut ready: BTreeSet<usize> = (0..labels.len()).filter(|&n| indeg[n] == 0).collect();
        let mut order = vec![];
        while let Some(n) = ready.pop_first() {
            order.push(n);
            for &c in &children[n] {
                indeg[c] -= 1;
                if indeg[c] == 0 {
                    ready.insert(c);
                }
            }
        }
        if order.len() < labels.len() {
            let stuck = (0..labels.len())
                .find(|&n| indeg[n] > 0 && prefix[n].is_some())
                .and_then(|n| prefix[n].clone())
                .unwrap_or_default();
            return Err(format!(
                "collapsing {stuck}/* would draw a cycle: a path leaves it and comes back"
            ));
        }
        Ok(Self {
            labels,
            parents,
            node_of,
            members,
            prefix,
            order,
        })
    }

    /// Every feature its own node.
    pub fn features(graph: &FeatureGraph) -> Self {
        Self::new(graph, &BTreeSet::new()).expect("a feature graph is acyclic")
    }
}

pub(crate) fn label_width(model: &GraphModel, i: usize, status: &dyn Fn(usize) -> String) -> usize {
    crate::tui::view::text_width(&model.labels[i]).max(crate::tui::view::text_width(&status(i)))
        as usize
}

/// Lays out the nodes of `model`: layer = longest path from a root; waypoints for long edges; order within
/// layers by two barycenter sweeps (fewer crossings); columns as wide as their widest label (`status(i)` is the
/// second line of node `i`).
pub fn layout(model: &GraphModel, status: &dyn Fn(usize) -> String) -> GraphLayout {
    let n = model.labels.len();
    let parents = &model.parents;
    // longest-path layering in topological order
    let mut layer = vec![0usize; n];
    for &i in &model.order {
        layer[i] = parents[i].iter().map(|&p| layer[p] + 1).max().unwrap_or(0);
    }
    let layers = layer.iter().copied().max().map_or(0, |m| m + 1);
    let mut nodes: Vec<Node> = (0..n)
        .map(|i| Node {
            feature: Some(i),
            layer: layer[i],
            y: 0,
        })
        .collect();
    let mut edges: Vec<(usize, usize)> = vec![];
    for (c, ps) in parents.iter().enumerate() {
        for &p in ps {
            let mut from = p;
            for l in layer[p] + 1..layer[c] {
                nodes.push(Node {
                    feature: None,
                    layer: l,
                    y: 0,
                });
                let w = nodes.len() - 1;
                edges.push((from, w));
                from = w;
            }
            edges.push((from, c));
        }
    }
    // order within layers: start in graph order, then barycenter sweeps down and up
    let mut order: Vec<Vec<usize>> = vec![vec![]; layers];
    for (i, nd) in nodes.iter().enumerate() {
        order[nd.layer].push(i);
    }
    let pos_of = |order: &Vec<Vec<usize>>| -> HashMap<usize, usize> {
        order
            .iter()
            .flat_map(|l| l.iter().enumerate().map(|(p, &i)| (i, p)))
            .collect()
    };
    for sweep in 0..4 {
        let pos = pos_of(&order);
        let down = sweep % 2 == 0;
        for layer_nodes in order.iter_mut() {
            let mut keyed: Vec<(f64, usize, usize)> = layer_nodes
                .iter()
                .enumerate()
                .map(|(p, &i)| {
                    let nb: Vec<usize> = edges
                        .iter()
                        .filter_map(|&(a, b)| {
                            if down && b == i {
                                Some(a)
                            } else if !down && a == i {
                                Some(b)
                            } else {
                                None
                            }
                        })
                        .collect();
                    let bc = if nb.is_empty() {
                        p as f64
                    } else {
                        nb.iter().map(|x| pos[x] as f64).sum::<f64>() / nb.len() as f64
                    };
                    (bc, p, i)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            *layer_nodes = keyed.into_iter().map(|(_, _, i)| i).collect();
        }
    }
    // rows: boxes stacked per column; waypoints take a box slot's middle row
    let mut height = 0;
    for l in &order {
        for (p, &i) in l.iter().enumerate() {
            let top = p * (BOX_H + V_GAP);
            nodes[i].y = if nodes[i].feature.is_some() {
                top
            } else {
                top + BOX_H / 2
            };
            height = height.max(top + BOX_H);
        }
    }
    // columns
    let mut layer_w = vec![8usize; layers];
    for (i, nd) in nodes.iter().enumerate() {
        if nd.feature.is_some() {
            layer_w[nd.layer] = layer_w[nd.layer].max(label_width(model, i, status) + 4);
        }
    }
    let gap = |l: usize| -> usize {
        // one vertical channel per edge source of layer l, at least 6 cells
        let sources: BTreeSet<usize> = edges
            .iter()
            .filter(|(a, _)| nodes[*a].layer == l)
            .map(|(a, _)| *a)
            .collect();
        (sources.len() + 5).max(6)
    };
    let mut layer_x = vec![0usize; layers];
    let mut x = 0;
    for l in 0..layers {
        layer_x[l] = x;
        x += layer_w[l] + if l + 1 < layers { gap(l) } else { 0 };
    }
    GraphLayout {
        nodes,
        edges,
        layer_x,
        layer_w,
        width: x,
        height,
    }
}

/// How a node is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emphasis {
    /// The selected feature.
    Selected,
    /// Upstream of the selection.
    Upstream,
    /// Downstream of the selection.
    Downstream,
    /// Unrelated to the selection (dimmed).
    Other,
}

pub(crate) const N: u8 = 1;
pub(crate) const S: u8 = 2;
pub(crate) const E: u8 = 4;
pub(crate) const W: u8 = 8;

pub(crate) fn line_char(d: u8) -> char {
    match d {
        x if x == E | W || x == E || x == W => '─',
        x if x == N | S || x == N || x == S => '│',
        x if x == S | E => '╭',
        x if x == S | W => '╮',
        x if x == N | E => '╰',
        x if x == N | W => '╯',
        x if x == N | S | E => '├',
        x if x == N | S | W => '┤',
        x if x == E | W | S => '┬',
        x if x == E | W | N => '┴',
        _ => '┼',
    }
}

/// A character canvas with box-line merging.
struct Canvas {
    w: usize,
    h: usize,
    dirs: Vec<u8>,
    line_style: Vec<Style>,
    text: Vec<Option<(char, Style)>>,
}

impl Canvas {
    fn new(w: usize, h: usize) -> Self {
        Self {
            w,
            h,
            dirs: vec![0; w * h],
            line_style: vec![Style::new(); w * h],
            text: vec![None; w * h],
        }
    }
    fn dir(&mut self, x: usize, y: usize, d: u8, st: Style) {
        if x < self.w && y < self.h {
            let i = y * self.w + x;
            self.dirs[i] |= d;
            // a highlighted edge wins over a dim one where they meet
            if st != Style::new().fg(Color::DarkGray) || self.line_style[i] == Style::new() {
                self.line_style[i] = st;
            }
        }
    }
    fn hline(&mut self, x0: usize, x1: usize, y: usize, st: Style) {
        let (a, b) = (x0.min(x1), x0.max(x1));
        for x in a..=b {
            let mut d = 0;
            if x > a {
                d |= W;
            }
            if x < b {
                d |= E;
            }
            self.dir(x, y, d, st);
        }
    }
    fn vline(&mut self, x: usize, y0: usize, y1: usize, st: Style) {
        let (a, b) = (y0.min(y1), y0.max(y1));
        for y in a..=b {
            let mut d = 0;
            if y > a {
                d |= N;
            }
            if y < b {
                d |= S;
            }
            self.dir(x, y, d, st);
        }
    }
    fn put(&mut self, x: usize, y: usize, c: char, st: Style) {
        if x < self.w && y < self.h {
            self.text[y * self.w + x] = Some((c, st));
        }
    }
    fn puts(&mut self, x: usize, y: usize, s: &str, max: usize, st: Style) {
        for (i, c) in s.chars().take(max).enumerate() {
            self.put(x + i, y, c, st);
        }
    }
}

/// Paints the layout: boxes with `label(i)` (key) and `status(i)` (status line, coloured `color(i)`), edges with
/// their junctions, the emphasis of each feature (`emphasis(i)`), into a grid of `(char, style)` rows.
pub fn paint(
    model: &GraphModel,
    lay: &GraphLayout,
    status: &dyn Fn(usize) -> String,
    color: &dyn Fn(usize) -> Color,
    emphasis: &dyn Fn(usize) -> Emphasis,
) -> Vec<Vec<(char, Style)>> {
    let mut cv = Canvas::new(lay.width.max(1), lay.height.max(1));
    let dim = Style::new().fg(Color::DarkGray);
    let edge_style = |a: usize, b: usize| -> Style {
        let f = |n: usize| lay.nodes[n].feature.map(emphasis);
        // an edge is highlighted when it lies on a path through the selection
        let up =
            |e: Option<Emphasis>| matches!(e, Some(Emphasis::Upstream | Emphasis::Selected) | None);
        let down = |e: Option<Emphasis>| {
            matches!(e, Some(Emphasis::Downstream | Emphasis::Selected) | None)
        };
        let (ea, eb) = (f(a), f(b));
        let real_a = ea.unwrap_or(Emphasis::Other);
        let real_b = eb.unwrap_or(Emphasis::Other);
        if (up(ea) && up(eb) && (real_b == Emphasis::Selected || real_b == Emphasis::Upstream))
            || (down(ea)
                && down(eb)
                && (real_a == Emphasis::Selected || real_a == Emphasis::Downstream))
        {
            Style::new().fg(Color::Cyan)
        } else {
            dim
        }
    };
    // waypoints inherit the emphasis of the edge chain: resolve by following chains to real ends
    let mut chain_style: HashMap<(usize, usize), Style> = HashMap::new();
    for &(a, b) in &lay.edges {
        if lay.nodes[a].feature.is_some() {
            // follow to the real target
            let mut cur = b;
            let mut path = vec![(a, b)];
            while lay.nodes[cur].feature.is_none() {
                let Some(&(x, y)) = lay.edges.iter().find(|(x, _)| *x == cur) else {
                    break;
                };
                path.push((x, y));
                cur = y;
            }
            let st = edge_style(a, cur);
            for e in path {
                chain_style.insert(e, st);
            }
        }
    }
    // channel per source in each gap
    let mut channel: HashMap<usize, usize> = HashMap::new();
    for l in 0..lay.layer_x.len().saturating_sub(1) {
        let mut srcs: Vec<usize> = lay
            .edges
            .iter()
            .filter(|(a, _)| lay.nodes[*a].layer == l)
            .map(|(a, _)| *a)
            .collect();
        srcs.sort_by_key(|&a| lay.mid(a));
        srcs.dedup();
        let start = lay.layer_x[l] + lay.layer_w[l] + 2;
        for (k, a) in srcs.iter().enumerate() {
            channel.insert(*a, start + k);
        }
    }
    for &(a, b) in &lay.edges {
        let st = chain_style.get(&(a, b)).copied().unwrap_or(dim);
        let la = lay.nodes[a].layer;
        let lb = lay.nodes[b].layer;
        let xa = if lay.nodes[a].feature.is_some() {
            lay.layer_x[la] + lay.layer_w[la]
        } else {
            lay.layer_x[la] + lay.layer_w[la] - 1
        };
        let xb = lay.layer_x[lb].saturating_sub(1);
        let (ya, yb) = (lay.mid(a), lay.mid(b));
        let cx = channel.get(&a).copied().unwrap_or(xa + 1);
        cv.hline(xa, cx, ya, st);
        cv.vline(cx, ya, yb, st);
        cv.hline(cx, xb, yb, st);
        if lay.nodes[b].feature.is_some() {
            cv.put(xb, yb, '▶', st);
        }
        // waypoint: a horizontal line across its column
        if lay.nodes[b].feature.is_none() {
            let x0 = lay.layer_x[lb];
            cv.hline(x0.saturating_sub(1), x0 + lay.layer_w[lb] - 1, yb, st);
        }
    }
    for (i, nd) in lay.nodes.iter().enumerate() {
        let Some(fi) = nd.feature else { continue };
        let em = emphasis(fi);
        let (x, y, w) = (lay.layer_x[nd.layer], nd.y, lay.layer_w[nd.layer]);
        let border = match em {
            Emphasis::Selected => Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            Emphasis::Upstream => Style::new().fg(Color::Magenta),
            Emphasis::Downstream => Style::new().fg(Color::Green),
            Emphasis::Other => Style::new().fg(Color::Gray),
        };
        let (tl, tr, bl, br, hz, vt) = if em == Emphasis::Selected {
            ('┏', '┓', '┗', '┛', '━', '┃')
        } else {
            ('╭', '╮', '╰', '╯', '─', '│')
        };
        cv.put(x, y, tl, border);
        cv.put(x + w - 1, y, tr, border);
        cv.put(x, y + BOX_H - 1, bl, border);
        cv.put(x + w - 1, y + BOX_H - 1, br, border);
        for xx in x + 1..x + w - 1 {
            cv.put(xx, y, hz, border);
            cv.put(xx, y + BOX_H - 1, hz, border);
        }
        for yy in y + 1..y + BOX_H - 1 {
            cv.put(x, yy, vt, border);
            cv.put(x + w - 1, yy, vt, border);
            for xx in x + 1..x + w - 1 {
                cv.put(xx, yy, ' ', Style::new());
            }
        }
        let key = &model.labels[fi];
        let key_style = if em == Emphasis::Selected {
            Style::new().add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        cv.puts(x + 2, y + 1, key, w - 4, key_style);
        cv.puts(x + 2, y + 2, &status(fi), w - 4, Style::new().fg(color(fi)));
        let _ = i;
    }
    (0..cv.h)
        .map(|y| {
            (0..cv.w)
                .map(|x| {
                    let i = y * cv.w + x;
                    match cv.text[i] {
                        Some(t) => t,
                        None if cv.dirs[i] != 0 => (line_char(cv.dirs[i]), cv.line_style[i]),
                        None => (' ', Style::new()),
                    }
                })
                .collect()
        })
        .collect()
}

/// Copies the part of `grid` starting at (`sx`, `sy`) into `area` of `buf`.
pub fn blit(buf: &mut Buffer, area: Rect, grid: &[Vec<(char, Style)>], sx: usize, sy: usize) {
    for (dy, row) in grid.iter().skip(sy).take(area.height as usize).enumerate() {
        for (dx, (c, st)) in row.iter().skip(sx).take(area.width as usize).enumerate() {
            if let Some(cell) = buf.cell_mut((area.x + dx as u16, area.y + dy as u16)) {
                cell.set_char(*c);
                cell.set_style(*st);
            }
        }
    }
}

/// Ancestors and descendants of feature `sel` (feature indices).
pub fn relatives(graph: &FeatureGraph, sel: usize) -> (BTreeSet<usize>, BTreeSet<usize>) {
    let index: HashMap<&FeatureKey, usize> = graph
        .features
        .iter()
        .enumerate()
        .map(|(i, f)| (&f.spec.key, i))
        .collect();
    let mut up = BTreeSet::new();
    let mut stack = vec![sel];
    while let Some(i) = stack.pop() {
        for d in &graph.features[i].spec.deps {
            if let Some(&p) = index.get(&d.feature) {
                if up.insert(p) {
                    stack.push(p);
                }
            }
        }
    }
    let down: BTreeSet<usize> =
        crate::engine::ops::mutate::downstream(graph, &graph.features[sel].spec.key)
            .iter()
            .filter_map(|k| index.get(k).copied())
            .collect();
    (up, down)
}
