/**
 * A time-series line chart drawn by uPlot (small, canvas, no network). Colours come from the page's CSS variables,
 * so it follows dark mode; it redraws when the width or the colour scheme changes. The canvas is hidden from
 * assistive technology: the page shows the same numbers as a table.
 */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export type ChartSeries = { label: string; values: number[]; colorVar: string };

export type TimeChartProps = {
	/** Bucket starts, ISO 8601. */
	times: string[];
	series: ChartSeries[];
	height?: number;
	/** Shown under the chart; also the chart's accessible name. */
	caption: string;
};

function cssVar(name: string): string {
	return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

export function TimeChart({ times, series, height = 280, caption }: TimeChartProps) {
	const box = useRef<HTMLDivElement>(null);

	useEffect(() => {
		const target = box.current;
		if (!target) return;
		let plot: uPlot | undefined;
		const draw = () => {
			plot?.destroy();
			const axis = { stroke: cssVar("--text-muted"), grid: { stroke: cssVar("--border") }, ticks: { stroke: cssVar("--border") } };
			plot = new uPlot(
				{
					width: Math.max(target.clientWidth, 200),
					height,
					scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
					axes: [axis, { ...axis, size: 50 }],
					series: [
						{ label: "Time" },
						...series.map((s) => ({
							label: s.label,
							stroke: cssVar(s.colorVar),
							width: 2,
							points: { show: true, size: 6, fill: cssVar(s.colorVar) },
						})),
					],
					legend: { live: true },
					cursor: { drag: { x: false, y: false } },
				},
				[times.map((t) => Date.parse(t) / 1000), ...series.map((s) => s.values)],
				target,
			);
		};
		draw();
		const resize = new ResizeObserver(() => plot?.setSize({ width: Math.max(target.clientWidth, 200), height }));
		resize.observe(target);
		const scheme = window.matchMedia("(prefers-color-scheme: dark)");
		scheme.addEventListener("change", draw);
		return () => {
			resize.disconnect();
			scheme.removeEventListener("change", draw);
			plot?.destroy();
		};
	}, [times, series, height]);

	return (
		<figure class="chart">
			<div ref={box} class="chart-canvas" aria-hidden="true" data-testid="chart" />
			<figcaption class="muted">{caption}</figcaption>
		</figure>
	);
}
