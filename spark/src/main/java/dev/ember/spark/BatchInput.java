package dev.ember.spark;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * The table {@code ember batch} reads: JSON lines, CSV with a header, or Parquet, chosen by the file's
 * extension, each row with an {@code id} that names its picture. Rows without an {@code id} column are
 * numbered in file order from 000001, so a re-run of the same file gives every row the same name.
 */
final class BatchInput {
    static final String ID = "id";
    /** Ids become file names: no separators, no leading dot, nothing a shell or another OS would mangle. */
    private static final Pattern SAFE_ID = Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}");

    private BatchInput() {}

    /**
     * The table at {@code input}: a local path, or a URI Spark reads ({@code hdfs://}, {@code s3a://}, ...).
     * IllegalArgumentException when a local file is missing or the format is not one Ember reads.
     */
    static Dataset<Row> read(SparkSession spark, String input) {
        String uri;
        if (URI_SCHEME.matcher(input).lookingAt()) {
            uri = input;
        } else {
            Path path = Path.of(input);
            if (!Files.exists(path)) throw new IllegalArgumentException("input " + input + " not found");
            uri = path.toAbsolutePath().normalize().toUri().toString();
        }
        String name = uri.replaceAll("/+$", "").toLowerCase(Locale.ROOT);
        if (name.endsWith(".jsonl") || name.endsWith(".ndjson") || name.endsWith(".json")) return spark.read().json(uri);
        // Every CSV cell is read as text: a bad number then fails its own row, not the whole read.
        if (name.endsWith(".csv")) return spark.read().option("header", true).option("multiLine", true).option("escape", "\"").csv(uri);
        if (name.endsWith(".parquet")) return spark.read().parquet(uri);
        throw new IllegalArgumentException("input " + input + ": give a .jsonl, .json, .csv or .parquet file");
    }

    private static final Pattern URI_SCHEME = Pattern.compile("[A-Za-z][A-Za-z0-9+.-]*://");

    /** The table with an {@code id} text column: its own, or the row's number in file order (000001, ...). */
    static Dataset<Row> withIds(SparkSession spark, Dataset<Row> table) {
        int given = RequestColumns.find(table.schema(), ID);
        if (given >= 0) {
            String name = table.schema().fieldNames()[given];
            return table.withColumn(name, functions.col(name).cast(DataTypes.StringType)).withColumnRenamed(name, ID);
        }
        StructType schema = table.schema().add(ID, DataTypes.StringType, false);
        JavaRDD<Row> numbered = table.javaRDD().zipWithIndex().map(pair -> {
            Row row = pair._1();
            Object[] values = new Object[row.size() + 1];
            for (int i = 0; i < row.size(); i++) values[i] = row.get(i);
            values[row.size()] = String.format(Locale.ROOT, "%06d", pair._2() + 1);
            return RowFactory.create(values);
        });
        return spark.createDataFrame(numbered, schema);
    }

    /** How many rows the table has, and the problems with their ids (at most a few, as lines for the user). */
    record IdCheck(long rows, List<String> problems) {}

    /**
     * Counts the rows and finds ids that are missing, not file-name-safe or repeated, in one pass over the
     * table; {@code problems} is empty when every row has a usable, unique id.
     */
    static IdCheck checkIds(Dataset<Row> table, int limit) {
        Column id = functions.col(ID), count = functions.col("count");
        Column bad = id.isNull().or(functions.not(id.rlike("^" + SAFE_ID.pattern() + "$"))).or(count.gt(1));
        Row summary = table.groupBy(id).count()
                .agg(functions.sum(count), functions.slice(functions.collect_list(functions.when(bad, functions.struct(id, count))), 1, limit))
                .first();
        List<String> problems = new ArrayList<>();
        if (!summary.isNullAt(1)) {
            for (Row r : summary.<Row>getList(1)) {
                String value = r.isNullAt(0) ? null : r.getString(0);
                long rows = r.getLong(1);
                if (value == null) problems.add(rows + (rows == 1 ? " row has" : " rows have") + " no id");
                else if (!SAFE_ID.matcher(value).matches()) problems.add("id '" + value + "' cannot be a file name (use letters, digits, '.', '_' and '-')");
                else problems.add("id '" + value + "' is used by " + rows + " rows");
            }
        }
        return new IdCheck(summary.isNullAt(0) ? 0 : summary.getLong(0), problems);
    }
}
