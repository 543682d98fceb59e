package dev.ember.spark;

import dev.ember.engine.image.OutputFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.function.FilterFunction;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.BinaryType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * The picture files of {@code ember batch}: {@code DIR/<id>.<seed>.png}, written by the executors (so
 * {@code DIR} must be a folder every executor sees) through a temporary file and an atomic rename, so a
 * killed task never leaves half a picture and a retried or speculative one rewrites the same bytes.
 */
final class BatchPictures {
    static final String FILE = "file";

    private BatchPictures() {}

    static String name(String id, long seed) {
        return id + "." + Long.toUnsignedString(seed) + ".png";
    }

    /** Keeps the rows whose picture is not in the folder yet (rows whose seed is bad are kept: generating reports it). */
    static final class Missing implements FilterFunction<Row> {
        private final String folder;
        private final RequestColumns requests;
        private final int id;

        Missing(Path folder, RequestColumns requests, int id) {
            this.folder = folder.toString();
            this.requests = requests;
            this.id = id;
        }

        @Override
        public boolean call(Row row) {
            Long seed = requests.seedOrNull(row);
            return seed == null || !Files.exists(Path.of(folder, name(row.getString(id), seed)));
        }
    }

    /**
     * Writes each generated row's picture and turns the row into a line of the results table: the
     * generated columns without the binary ones ({@code png}, an {@code init_image} given as bytes), plus
     * {@code file}, the picture's name in the folder (null when the row failed).
     */
    static final class Write implements MapPartitionsFunction<Row, Row> {
        private final String folder;
        private final StructType schema;
        private final int[] kept;
        private final int id, png, seed, error, errorOut;

        Write(Path folder, StructType generated) {
            this.folder = folder.toString();
            List<StructField> fields = new ArrayList<>();
            List<Integer> keep = new ArrayList<>();
            StructField[] in = generated.fields();
            for (int i = 0; i < in.length; i++) {
                if (in[i].dataType() instanceof BinaryType) continue;
                fields.add(in[i]);
                keep.add(i);
            }
            fields.add(DataTypes.createStructField(FILE, DataTypes.StringType, true));
            this.schema = DataTypes.createStructType(fields);
            this.kept = keep.stream().mapToInt(Integer::intValue).toArray();
            this.id = generated.fieldIndex(BatchInput.ID);
            this.png = generated.fieldIndex(EmberSpark.PNG);
            this.seed = generated.fieldIndex(EmberSpark.SEED);
            this.error = generated.fieldIndex(EmberSpark.ERROR);
            this.errorOut = keep.indexOf(error);
        }

        StructType schema() {
            return schema;
        }

        @Override
        public Iterator<Row> call(Iterator<Row> rows) {
            return new Iterator<>() {
                @Override
                public boolean hasNext() {
                    return rows.hasNext();
                }

                @Override
                public Row next() {
                    return write(rows.next());
                }
            };
        }

        private Row write(Row row) {
            Object[] values = new Object[kept.length + 1];
            for (int i = 0; i < kept.length; i++) values[i] = row.get(kept[i]);
            if (row.isNullAt(error)) {
                String name = name(row.getString(id), row.getLong(seed));
                try {
                    OutputFiles.writeReplacing(Path.of(folder, name), (byte[]) row.get(png));
                    values[kept.length] = name;
                } catch (IOException | RuntimeException e) {
                    values[errorOut] = "cannot write " + Path.of(folder, name) + ": " + e;
                }
            }
            return RowFactory.create(values);
        }
    }
}
