/**
 * Tables of API lists: columns described once, a loading / error / empty state around them. Every list page
 * renders through these, so headers, scroll boxes and empty states look and read the same everywhere.
 */
import type { ComponentChildren } from "preact";
import type { Resource } from "../hooks";
import { Loading, Problem, TableWrap } from "./ui";

export type Column<T> = {
	header: string;
	cell: (row: T) => ComponentChildren;
	/** Right-aligned, tabular digits. */
	numeric?: boolean;
	/** Long text that wraps instead of widening the table. */
	wrap?: boolean;
	/** The header is read by screen readers only (an actions column). */
	hiddenHeader?: boolean;
	/** The cell names its row (`<th scope="row">`). */
	rowHeader?: boolean;
};

function cellClass<T>(column: Column<T>): string | undefined {
	return [column.numeric ? "num" : "", column.wrap ? "wrap" : ""].filter(Boolean).join(" ") || undefined;
}

export function DataTable<T>({
	label,
	rows,
	columns,
	rowKey,
}: {
	label: string;
	rows: T[];
	columns: Column<T>[];
	rowKey: (row: T) => string;
}) {
	return (
		<TableWrap label={label}>
			<table>
				<thead>
					<tr>
						{columns.map((c) => (
							<th key={c.header} scope="col" class={c.numeric ? "num" : undefined}>
								{c.hiddenHeader ? <span class="visually-hidden">{c.header}</span> : c.header}
							</th>
						))}
					</tr>
				</thead>
				<tbody>
					{rows.map((row) => (
						<tr key={rowKey(row)}>
							{columns.map((c) =>
								c.rowHeader ? (
									<th key={c.header} scope="row" class={cellClass(c)}>
										{c.cell(row)}
									</th>
								) : (
									<td key={c.header} class={cellClass(c)}>
										{c.cell(row)}
									</td>
								),
							)}
						</tr>
					))}
				</tbody>
			</table>
		</TableWrap>
	);
}

/**
 * A loaded list as a table: "Loading …" first, the API's error in words if it failed, `empty` when there is
 * nothing, else the rows.
 */
export function ListTable<T>({
	resource,
	what,
	empty,
	columns,
	rowKey,
}: {
	resource: Resource<{ data: T[] }>;
	/** What is listed, lower case: "emails", "API keys"; also the table's accessible name, capitalised. */
	what: string;
	empty: ComponentChildren;
	columns: Column<T>[];
	rowKey: (row: T) => string;
}) {
	const label = what.charAt(0).toUpperCase() + what.slice(1);
	if (!resource.data) {
		return resource.error ? <Problem error={resource.error} action={`Could not load ${what}`} /> : <Loading what={what} />;
	}
	const rows = resource.data.data;
	return (
		<>
			<Problem error={resource.error} action={`Could not refresh ${what}`} />
			{rows.length === 0 ? <p class="muted">{empty}</p> : <DataTable label={label} rows={rows} columns={columns} rowKey={rowKey} />}
		</>
	);
}
