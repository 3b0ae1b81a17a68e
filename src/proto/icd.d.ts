import * as $protobuf from "protobufjs/minimal.js";
import Long = require("long");

/** Namespace ICD. */
export namespace ICD {

    /**
     * Properties of a Request.
     * @deprecated Use ICD.Request.$Properties instead.
     */
    interface IRequest extends ICD.Request.$Properties {
    }

    /** Represents a Request. */
    class Request {

        /**
         * Constructs a new Request.
         * @param [properties] Properties to set
         */
        constructor(properties?: ICD.Request.$Properties);

        /** Unknown fields preserved while decoding when enabled */
        $unknowns?: Uint8Array[];

        /** Request user. */
        user: Uint8Array;

        /** Request authToken. */
        authToken: Uint8Array;

        /** Request identifiers. */
        identifiers: Uint8Array[];

        /**
         * Encodes the specified Request message. Does not implicitly {@link ICD.Request.verify|verify} messages.
         * @param message Request message or plain object to encode
         * @param [writer] Writer to encode to
         * @returns Writer
         */
        static encode(message: ICD.Request.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

        /**
         * Decodes a Request message from the specified reader or buffer.
         * @param reader Reader or buffer to decode from
         * @param [length] Message length if known beforehand
         * @returns {ICD.Request & ICD.Request.$Shape} Request
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): ICD.Request & ICD.Request.$Shape;
    }

    namespace Request {

        /** Properties of a Request. */
        interface $Properties {

            /** Request user */
            user?: (Uint8Array|null);

            /** Request authToken */
            authToken?: (Uint8Array|null);

            /** Request identifiers */
            identifiers?: (Uint8Array[]|null);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];
        }

        /** Shape of a Request. */
        type $Shape = ICD.Request.$Properties;
    }

    /**
     * Properties of a Response.
     * @deprecated Use ICD.Response.$Properties instead.
     */
    interface IResponse extends ICD.Response.$Properties {
    }

    /** Represents a Response. */
    class Response {

        /**
         * Constructs a new Response.
         * @param [properties] Properties to set
         */
        constructor(properties?: ICD.Response.$Properties);

        /** Unknown fields preserved while decoding when enabled */
        $unknowns?: Uint8Array[];

        /** Response result. */
        result: ICD.Response.Result;

        /** Response addedUsers. */
        addedUsers: Uint8Array[];

        /** Response removedUsers. */
        removedUsers: Uint8Array[];

        /**
         * Encodes the specified Response message. Does not implicitly {@link ICD.Response.verify|verify} messages.
         * @param message Response message or plain object to encode
         * @param [writer] Writer to encode to
         * @returns Writer
         */
        static encode(message: ICD.Response.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

        /**
         * Decodes a Response message from the specified reader or buffer.
         * @param reader Reader or buffer to decode from
         * @param [length] Message length if known beforehand
         * @returns {ICD.Response & ICD.Response.$Shape} Response
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): ICD.Response & ICD.Response.$Shape;
    }

    namespace Response {

        /** Properties of a Response. */
        interface $Properties {

            /** Response result */
            result?: (ICD.Response.Result|null);

            /** Response addedUsers */
            addedUsers?: (Uint8Array[]|null);

            /** Response removedUsers */
            removedUsers?: (Uint8Array[]|null);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];
        }

        /** Shape of a Response. */
        type $Shape = ICD.Response.$Properties;

        /** Result enum. */
        enum Result {

            /** SUCCESS value */
            SUCCESS = 0,

            /** AUTHENTICATION_INVALID value */
            AUTHENTICATION_INVALID = 1,

            /** RATE_LIMIT_EXCEEDED value */
            RATE_LIMIT_EXCEEDED = 2,

            /** REQUEST_DATA_MISSING value */
            REQUEST_DATA_MISSING = 3,

            /** REQUEST_DATA_INVALID value */
            REQUEST_DATA_INVALID = 4
        }
    }
}
