package dev.ember.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ember.engine.GenerationRequest;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;

/** A row's missing width or height is the model's own size (as on the command line), asked only when needed. */
class RequestColumnsTest {
    private static final StructType SCHEMA = new StructType().add("prompt", DataTypes.StringType)
            .add("width", DataTypes.StringType).add("height", DataTypes.StringType).add("steps", DataTypes.StringType);
    private static final RequestColumns COLUMNS = RequestColumns.of(SCHEMA);

    @Test
    void aMissingSideIsTheModelsOwnSize() {
        AtomicInteger asked = new AtomicInteger();
        GenerationRequest none = COLUMNS.read(RowFactory.create("x", null, null, null), () -> { asked.incrementAndGet(); return 1024; }).request();
        assertEquals(1024, none.width());
        assertEquals(1024, none.height());
        GenerationRequest one = COLUMNS.read(RowFactory.create("x", "640", null, null), () -> 768).request();
        assertEquals(640, one.width());
        assertEquals(768, one.height());
        GenerationRequest both = COLUMNS.read(RowFactory.create("x", "64", "96", null), () -> { asked.incrementAndGet(); return 1024; }).request();
        assertEquals(64, both.width());
        assertEquals(96, both.height());
        assertEquals(1, asked.get(), "the model's size is asked only for a row that lacks one");
    }

    @Test
    void aRowWhoseValuesDoNotParseNeverAsksForTheModel() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> COLUMNS.read(RowFactory.create("x", null, null, "many"), () -> { throw new AssertionError("model asked"); }));
        assertEquals("steps must be a whole number, got 'many'", e.getMessage());
    }
}
