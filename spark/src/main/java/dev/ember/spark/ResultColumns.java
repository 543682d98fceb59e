package dev.ember.spark;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * The table {@link EmberSpark#generate} returns: the input's columns (its {@code seed}, if any, replaced by
 * the seed used) followed by {@code png}, {@code seed}, {@code parameters}, {@code metadata}, {@code error}
 * and {@code seconds}.
 */
final class ResultColumns implements Serializable {
    private final StructType schema;
    /** Positions of the input columns that are kept, in order. */
    private final int[] kept;

    private ResultColumns(StructType input) {
        List<StructField> fields = new ArrayList<>();
        List<Integer> keep = new ArrayList<>();
        StructField[] in = input.fields();
        for (int i = 0; i < in.length; i++) {
            String name = in[i].name().toLowerCase(Locale.ROOT);
            if (name.equals(EmberSpark.SEED)) continue;
            for (String output : List.of(EmberSpark.PNG, EmberSpark.PARAMETERS, EmberSpark.METADATA, EmberSpark.ERROR, EmberSpark.SECONDS)) {
                if (name.equals(output)) {
                    throw new IllegalArgumentException("the requests have a column '" + in[i].name()
                            + "', which is one of the results' names; rename or drop it");
                }
            }
            fields.add(in[i]);
            keep.add(i);
        }
        fields.add(DataTypes.createStructField(EmberSpark.PNG, DataTypes.BinaryType, true));
        fields.add(DataTypes.createStructField(EmberSpark.SEED, DataTypes.LongType, true));
        fields.add(DataTypes.createStructField(EmberSpark.PARAMETERS, DataTypes.StringType, true));
        fields.add(DataTypes.createStructField(EmberSpark.METADATA, DataTypes.StringType, true));
        fields.add(DataTypes.createStructField(EmberSpark.ERROR, DataTypes.StringType, true));
        fields.add(DataTypes.createStructField(EmberSpark.SECONDS, DataTypes.DoubleType, false));
        this.schema = DataTypes.createStructType(fields);
        this.kept = keep.stream().mapToInt(Integer::intValue).toArray();
    }

    static ResultColumns of(StructType input) {
        return new ResultColumns(input);
    }

    StructType schema() {
        return schema;
    }

    Row succeeded(Row input, byte[] png, long seed, String parameters, String metadata, double seconds) {
        return row(input, png, seed, parameters, metadata, null, seconds);
    }

    Row failed(Row input, Long seed, String error, double seconds) {
        return row(input, null, seed, null, null, error, seconds);
    }

    private Row row(Row input, byte[] png, Long seed, String parameters, String metadata, String error, double seconds) {
        Object[] values = new Object[kept.length + 6];
        for (int i = 0; i < kept.length; i++) values[i] = input.get(kept[i]);
        int o = kept.length;
        values[o] = png;
        values[o + 1] = seed;
        values[o + 2] = parameters;
        values[o + 3] = metadata;
        values[o + 4] = error;
        values[o + 5] = seconds;
        return RowFactory.create(values);
    }
}
